"""One seed, one run: the metrics JSON is a pure function of scenario, scheduler and seed."""

from __future__ import annotations

import json

from ristbond_core.sim.metrics import compute_metrics
from ristbond_core.sim.runner import run_scenario
from ristbond_core.sim.scenario import load_scenario

#: race-car has seeded random walks on every link: seeds visibly change the run.
SCENARIO = "race-car"
DURATION_S = 5.0


def metrics_json(seed: int) -> str:
    record = run_scenario(load_scenario(SCENARIO), "dwrr", seed=seed, duration_s=DURATION_S)
    return json.dumps(compute_metrics(record), sort_keys=True)


def test_the_same_seed_gives_identical_json() -> None:
    assert metrics_json(3) == metrics_json(3)


def test_different_seeds_give_different_runs() -> None:
    assert metrics_json(3) != metrics_json(4)
