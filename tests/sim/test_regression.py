"""The regression suite: every shipped scenario under dwrr against thresholds.toml.

A bound the system cannot meet yet is a strict xfail whose reason carries the measured
value: it fails loudly the day it starts passing, and nobody widens a number.
"""

from __future__ import annotations

from typing import Any

import pytest

from ristbond_core.sim.metrics import metric_value
from ristbond_core.sim.suite import Threshold, load_thresholds, run_suite

SCHEDULER = "dwrr"


def _params() -> list[Any]:
    params = []
    for threshold in load_thresholds():
        marks = [pytest.mark.xfail(strict=True, reason=threshold.xfail)] if threshold.xfail else []
        params.append(pytest.param(threshold, marks=marks,
                                   id=f"{threshold.scenario}:{threshold.metric}"))
    return params


@pytest.fixture(scope="module")
def suite_results() -> dict[tuple[str, str], dict[str, Any]]:
    """The whole suite once, at each scenario's shortest meaningful duration."""
    return run_suite([SCHEDULER], short=True)


@pytest.mark.parametrize("threshold", _params())
def test_threshold(threshold: Threshold,
                   suite_results: dict[tuple[str, str], dict[str, Any]]) -> None:
    metrics = suite_results[(threshold.scenario, SCHEDULER)]
    value = metric_value(metrics, threshold.metric)
    assert threshold.holds(value), (
        f"{threshold.scenario}: {threshold.metric} = {value} "
        f"(max {threshold.max}, min {threshold.min})"
    )
