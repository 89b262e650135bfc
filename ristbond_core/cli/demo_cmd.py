"""``ristbond demo``: a bonded stream over three cellular-like links, with a summary.

By default it is live: real ``ristbond send`` and ``ristbond receive`` processes on
loopback with the impairment relay between them (about a minute, a plot at the end).
``--simulated`` runs the same links on a virtual clock in a few seconds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ristbond_core.demo.live import default_plot_path, run_live
from ristbond_core.demo.simulated import run_simulated
from ristbond_core.errors import RistbondError
from ristbond_core.plugins import PluginHost


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        "demo", help="bond a stream over three cellular-like links and summarise"
    )
    parser.add_argument("--scheduler", default="dwrr", help="scheduler plugin (default dwrr)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds of stream (default 40 live, 30 simulated)")
    parser.add_argument("--bitrate-kbps", type=int, default=4000, help="stream bitrate")
    parser.add_argument("--latency-ms", type=int, default=800, help="latency budget")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the impairments")
    parser.add_argument("--plot", type=Path, default=None,
                        help="where the live demo writes its PNG (default ./ristbond-demo.png)")
    parser.add_argument("--no-plot", action="store_true", help="do not write a plot")
    parser.add_argument("--simulated", action="store_true",
                        help="run on a virtual clock instead of real sockets (seconds, no plot)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the live or the simulated demo."""
    duration = args.duration if args.duration is not None else (30.0 if args.simulated else 40.0)
    if duration <= 0 or args.bitrate_kbps <= 0 or args.latency_ms < 20:
        raise RistbondError("demo: --duration and --bitrate-kbps must be > 0 and "
                            "--latency-ms at least 20")
    PluginHost.discover().require("scheduler", args.scheduler, "--scheduler")
    if args.simulated:
        return run_simulated(duration_s=duration, bitrate_kbps=args.bitrate_kbps,
                             latency_ms=args.latency_ms, scheduler=args.scheduler,
                             seed=args.seed, out=sys.stdout)
    plot = None if args.no_plot else (args.plot or default_plot_path())
    return run_live(duration_s=duration, bitrate_kbps=args.bitrate_kbps,
                    latency_ms=args.latency_ms, scheduler=args.scheduler, seed=args.seed,
                    plot=plot, out=sys.stdout)
