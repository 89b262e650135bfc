"""The scenario suite: every shipped scenario under several schedulers, and thresholds.

Thresholds live in ``thresholds.toml`` next to this module: per scenario, per metric
a ``max`` (or ``min``) and, while the system cannot meet it yet, an ``xfail`` reason
with the measured value. The regression test and ``ristbond sim --suite`` read them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import tomllib

from ristbond_core.plugins import PluginHost
from ristbond_core.sim.metrics import compute_metrics, metric_value
from ristbond_core.sim.runner import run_scenario
from ristbond_core.sim.scenario import load_scenario, shipped_names

#: Rows of the comparison table: (label, threshold metric name).
TABLE_METRICS = (
    ("residual loss %", "residual_loss"),
    ("p99 latency ms", "latency_p99_ms"),
    ("overhead %", "overhead_ratio"),
    ("glitches", "glitches"),
    ("output reorder", "output_reorder"),
    ("spurious rtx", "spurious_retransmits"),
    ("shift s", "shift_time_s"),
)


@dataclass(frozen=True, slots=True)
class Threshold:
    """One bound on one metric of one scenario."""

    scenario: str
    metric: str
    max: float | None = None
    min: float | None = None
    xfail: str | None = None

    def holds(self, value: float | None) -> bool:
        """Is the measured value within the bound? (Missing counts as a miss.)"""
        if value is None:
            return False
        if self.max is not None and value > self.max:
            return False
        return not (self.min is not None and value < self.min)


def load_thresholds() -> list[Threshold]:
    """Every threshold from the shipped ``thresholds.toml``."""
    text = (resources.files("ristbond_core.sim") / "thresholds.toml").read_text("utf-8")
    data = tomllib.loads(text)
    thresholds = []
    for scenario, metrics in data.items():
        for metric, bound in metrics.items():
            thresholds.append(Threshold(scenario, metric, bound.get("max"), bound.get("min"),
                                        bound.get("xfail")))
    return thresholds


def run_suite(
    schedulers: Sequence[str],
    *,
    seed: int = 1,
    short: bool = False,
    names: Sequence[str] | None = None,
    on_result: Callable[[str, str, dict[str, Any]], None] | None = None,
) -> dict[tuple[str, str], dict[str, Any]]:
    """Metrics per (scenario, scheduler); ``short`` uses each scenario's shortest run."""
    host = PluginHost.discover()
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for name in names or shipped_names():
        scenario = load_scenario(name)
        duration = scenario.min_duration_s if short else None
        for scheduler in schedulers:
            record = run_scenario(scenario, scheduler, seed=seed, duration_s=duration,
                                  host=host)
            metrics = compute_metrics(record)
            results[(name, scheduler)] = metrics
            if on_result is not None:
                on_result(name, scheduler, metrics)
    return results


def comparison_table(
    results: dict[tuple[str, str], dict[str, Any]], schedulers: Sequence[str]
) -> str:
    """A plain-text table: one row per scenario and metric, one column per scheduler."""
    names = sorted({name for name, _ in results})
    header = f"{'scenario':16} {'metric':16} " + " ".join(f"{s:>12}" for s in schedulers)
    lines = [header, "-" * len(header)]
    for name in names:
        for label, metric in TABLE_METRICS:
            cells = [_cell(metric, results.get((name, s))) for s in schedulers]
            if all(c == "-" for c in cells):
                continue
            lines.append(f"{name:16} {label:16} " + " ".join(f"{c:>12}" for c in cells))
    return "\n".join(lines)


def _cell(metric: str, metrics: dict[str, Any] | None) -> str:
    if metrics is None or (metric == "shift_time_s" and metric not in metrics):
        return "-"
    value = metric_value(metrics, metric)
    if value is None:
        return "never" if metric == "shift_time_s" else "n/a"
    if metric in ("residual_loss", "overhead_ratio"):
        return f"{100 * value:.2f}"
    if metric in ("glitches", "spurious_retransmits", "output_reorder"):
        return f"{value:.0f}"
    if metric == "shift_time_s":
        return f"{value:.1f}"
    return f"{value:.0f}"
