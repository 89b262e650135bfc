"""Simulator speed: simulated seconds per wall-clock second on a heavy scenario.

Run: ``python benchmarks/bench_sim.py [--scenario cellular-3link] [--bitrate-kbps 20000]
[--duration 60] [--scheduler dwrr]``. The default is a 60 s ``cellular-3link`` run at
20 Mbit/s: three trace-driven links, the real engines and the scheduler plugin, every
datagram through the simulated paths both ways. The wall clock is read only here, by
the benchmark, never by the simulator.
"""

from __future__ import annotations

import argparse
import time

from ristbond_core.sim.metrics import compute_metrics
from ristbond_core.sim.runner import run_scenario
from ristbond_core.sim.scenario import load_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="cellular-3link")
    parser.add_argument("--bitrate-kbps", type=float, default=20_000)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--scheduler", default="dwrr")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    scenario = load_scenario(args.scenario)
    scenario.bitrate_kbps = args.bitrate_kbps
    started = time.perf_counter()
    record = run_scenario(scenario, args.scheduler, seed=args.seed, duration_s=args.duration)
    wall_s = time.perf_counter() - started
    metrics = compute_metrics(record)
    simulated_s = record.samples[-1].t_s if record.samples else args.duration
    print(f"{args.scenario} at {args.bitrate_kbps:g} kbit/s, {args.duration:g} s input "
          f"({simulated_s:.1f} s simulated incl. drain), scheduler {args.scheduler}")
    print(f"  input packets     {metrics['sent']}")
    print(f"  event-loop steps  {record.steps}")
    print(f"  wall time         {wall_s:.2f} s")
    print(f"  speed-up          {simulated_s / wall_s:.2f} simulated s per wall s")
    print(f"  packets/wall s    {metrics['sent'] / wall_s:.0f}")
    note = " (more than the traces carry at times)" if metrics["residual_loss"] else ""
    print(f"  residual loss     {100 * metrics['residual_loss']:.2f} %{note}")


if __name__ == "__main__":
    main()
