"""Microseconds per ``Scheduler.select()`` for each scheduler at 2, 4 and 8 links.

Run: ``python benchmarks/bench_schedulers.py [--scheduler NAME ...] [--packets N]``.
Schedulers are built by name through the plugin host, so any installed scheduler
plugin can be measured. By default: ``dwrr``, ``weighted``, ``broadcast`` and the
example ``minrtt`` (imported from ``examples/`` when it is not installed). Two rows
per scheduler: steady metrics, and an ``on_metrics`` update (new capacity and RTT for
one link) every 100 packets, as a feedback-driven sender sees them.
"""

from __future__ import annotations

import argparse
import importlib
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

from ristbond_core.contracts import LinkView, PacketInfo, Scheduler
from ristbond_core.plugins import PluginHost, PluginInfo
from ristbond_core.testing.conformance import make_link

EXAMPLE_SOURCE = Path(__file__).resolve().parents[1] / "examples" / "ristbond-sched-minrtt"
DEFAULT_SCHEDULERS = ("dwrr", "weighted", "broadcast", "minrtt")
LINK_COUNTS = (2, 4, 8)
METRICS_EVERY = 100


def plugin_host() -> PluginHost:
    """Installed plugins, plus the example from its source tree if it is not installed."""
    host = PluginHost.discover()
    if host.schedulers.get("minrtt") is None and EXAMPLE_SOURCE.is_dir():
        sys.path.insert(0, str(EXAMPLE_SOURCE))
        module = importlib.import_module("ristbond_sched_minrtt")
        info = PluginInfo("minrtt", "ristbond_sched_minrtt", "(examples/ source)", "")
        host.add_plugin("minrtt", module, info)
    return host


def links(count: int) -> list[LinkView]:
    """``count`` live links with different capacities and RTTs."""
    return [
        make_link(f"link{i}", capacity_bps=1e6 * (i + 1), rtt_ms=20.0 + 10 * i, weight=i + 1.0)
        for i in range(count)
    ]


def time_select(scheduler: Scheduler, count: int, packets: int, churn: bool) -> float:
    """Mean µs per ``select()`` over ``packets`` packets of mixed sizes."""
    views = links(count)
    for view in views:
        scheduler.on_link_added(view.link_id, 0)
        scheduler.on_metrics(view, 0)
    rng = random.Random(1)
    sizes = [188 * rng.randint(1, 7) for _ in range(packets)]
    packet_list = [PacketInfo(seq=i, size_bytes=size) for i, size in enumerate(sizes)]
    updates: dict[int, LinkView] = {}
    if churn:
        for i in range(0, packets, METRICS_EVERY):
            view = views[(i // METRICS_EVERY) % count]
            capacity = (view.metrics.capacity_bps or 1e6) * rng.uniform(0.6, 1.4)
            metrics = replace(view.metrics, capacity_bps=capacity, rtt_ms=rng.uniform(10, 200))
            updates[i] = replace(view, metrics=metrics)
    select = scheduler.select
    start = time.perf_counter_ns()
    for i, packet in enumerate(packet_list):
        update = updates.get(i)
        if update is not None:
            views[int(update.link_id[4:])] = update
            scheduler.on_metrics(update, i * 1_000_000)
        select(packet, views, i * 1_000_000)
    elapsed = time.perf_counter_ns() - start
    return elapsed / packets / 1_000


def main(argv: list[str] | None = None) -> int:
    """Print the table (best of five runs per cell, to damp noise)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=50_000, help="packets per run")
    parser.add_argument(
        "--scheduler",
        action="append",
        metavar="NAME",
        help=f"scheduler to measure (repeatable; default: {', '.join(DEFAULT_SCHEDULERS)})",
    )
    args = parser.parse_args(argv)
    host = plugin_host()
    names: list[str] = args.scheduler or list(DEFAULT_SCHEDULERS)

    def build(name: str) -> Scheduler:
        return host.create_scheduler(name, {}, random.Random(0))

    header = f"{'scheduler':<18} {'metrics':<10}" + "".join(
        f"{f'{n} links':>10}" for n in LINK_COUNTS
    )
    print(f"µs per select(), {args.packets} packets, Python {sys.version.split()[0]}")
    print(header)
    print("-" * len(header))
    for name in names:
        for churn in (False, True):
            cells = [
                min(time_select(build(name), n, args.packets, churn) for _ in range(5))
                for n in LINK_COUNTS
            ]
            label = f"1/{METRICS_EVERY} pkts" if churn else "steady"
            print(f"{name:<18} {label:<10}" + "".join(f"{c:>10.2f}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
