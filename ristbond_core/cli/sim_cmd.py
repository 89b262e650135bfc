"""``ristbond sim``: run a scenario (or the whole suite) in the deterministic simulator.

The real engines and the chosen scheduler plugin run over simulated links on a
virtual clock; the same scenario, scheduler and seed always print the same numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from ristbond_core.errors import RistbondError
from ristbond_core.sim.metrics import compute_metrics
from ristbond_core.sim.runner import run_scenario
from ristbond_core.sim.scenario import load_scenario, shipped_names
from ristbond_core.sim.suite import comparison_table, run_suite

DEFAULT_SCHEDULER = "dwrr"
SUITE_SCHEDULERS = ("dwrr", "weighted", "broadcast")


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        "sim", help="run a network scenario (or --suite) against a scheduler, in virtual time"
    )
    parser.add_argument("scenario", nargs="?",
                        help=f"a shipped scenario ({', '.join(shipped_names())}) or a TOML path")
    parser.add_argument("--suite", action="store_true",
                        help="run every shipped scenario and compare schedulers")
    parser.add_argument("--scheduler", action="extend", nargs="+", metavar="NAME",
                        help="scheduler plugin (default dwrr); with --suite one or more "
                             "to compare (default dwrr weighted broadcast)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="simulated seconds of input (default: the scenario's)")
    parser.add_argument("--short", action="store_true",
                        help="with --suite: each scenario's shortest meaningful run")
    parser.add_argument("--only", metavar="NAMES",
                        help="with --suite: a comma-separated subset of the shipped scenarios")
    parser.add_argument("--json", action="store_true", help="print metrics as one JSON object")
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="write a plot of the run")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run one scenario or the suite and print the result."""
    if args.suite:
        if args.scenario or args.plot or args.duration is not None:
            raise RistbondError("sim --suite takes no scenario, --plot or --duration")
        return _run_suite(args)
    if not args.scenario:
        raise RistbondError("sim: name a scenario or use --suite "
                            f"(shipped: {', '.join(shipped_names())})")
    if args.scheduler and len(args.scheduler) > 1:
        raise RistbondError("sim: one --scheduler per scenario run (several only with --suite)")
    if args.duration is not None and args.duration <= 0:
        raise RistbondError("sim: --duration must be > 0")
    scenario = load_scenario(args.scenario)
    if args.plot is not None:
        from ristbond_core.sim.plot import require_matplotlib

        require_matplotlib()
    scheduler = args.scheduler[0] if args.scheduler else DEFAULT_SCHEDULER
    bar = ProgressBar(sys.stderr, scenario.name)
    record = run_scenario(scenario, scheduler, seed=args.seed, duration_s=args.duration,
                          progress=bar.update if bar.enabled else None)
    bar.close()
    metrics = compute_metrics(record)
    if args.plot is not None:
        from ristbond_core.sim.plot import write_plot

        write_plot(record, args.plot)
    if args.json:
        print(json.dumps(metrics, sort_keys=True))
    else:
        print(_summary(metrics))
        if args.plot is not None:
            print(f"plot written to {args.plot}")
    return 0


def _run_suite(args: argparse.Namespace) -> int:
    schedulers = args.scheduler or list(SUITE_SCHEDULERS)
    names = None
    if args.only:
        names = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = sorted(set(names) - set(shipped_names()))
        if unknown:
            raise RistbondError(f"sim --only: no shipped scenario {', '.join(unknown)}")
    interactive = sys.stderr.isatty()

    def report(name: str, scheduler: str, metrics: dict[str, Any]) -> None:
        if interactive:
            print(f"  {name} / {scheduler} done", file=sys.stderr)

    results = run_suite(schedulers, seed=args.seed, short=args.short, names=names,
                        on_result=report)
    if args.json:
        rows = [dict(metrics, lifecycle=None) for metrics in results.values()]
        print(json.dumps(rows, sort_keys=True))
    else:
        print(comparison_table(results, schedulers))
    return 0


def _summary(m: dict[str, Any]) -> str:
    latency = m["latency_ms"]
    lines = [
        f"scenario {m['scenario']}: scheduler {m['scheduler']}, seed {m['seed']}, "
        f"{m['duration_s']:g} s at {m['bitrate_kbps']:g} kbit/s",
        f"  delivered       {m['delivered']} of {m['sent']} "
        f"(residual loss {100 * m['residual_loss']:.3f} %, {m['glitches']} glitches)",
        f"  latency         p50 {latency['p50']} / p95 {latency['p95']} / p99 {latency['p99']} ms"
        f" (target {m['latency_target_ms']} ms)",
        f"  overhead        {100 * m['overhead_ratio']:.2f} % "
        f"({m['retransmissions']} retransmissions, {m['redundant_copies']} redundant copies)",
        f"  spurious rtx    {m['spurious_retransmits']}",
        f"  output reorder  {m['output_reorder']}",
    ]
    if "shift_time_s" in m:
        shift = m["shift_time_s"]
        lines.append(f"  traffic shift   {'never' if shift is None else f'{shift:.2f} s'}")
    lines.append("  links:")
    for link in m["links"]:
        error = link["capacity_error"]
        lines.append(f"    {link['id']:10} share {100 * link['share']:5.1f} %  capacity error "
                     f"{'-' if error is None else f'{100 * error:.0f} %'}  "
                     f"state {link['final_state']}")
    lines.append(f"  lifecycle transitions: {m['lifecycle_transitions']}")
    return "\n".join(lines)


class ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    WIDTH = 30

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.enabled = stream.isatty()
        self._drawn = -1

    def update(self, fraction: float) -> None:
        filled = int(fraction * self.WIDTH)
        if filled == self._drawn:
            return
        self._drawn = filled
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {100 * fraction:3.0f} %")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._drawn >= 0:
            self.stream.write("\n")
            self.stream.flush()
