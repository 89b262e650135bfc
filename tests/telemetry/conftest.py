"""Realistic snapshots for telemetry tests: the real engines over simulated links."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ristbond_core.engine.receiver import ReceiverSettings
from ristbond_core.engine.sender import SenderSettings
from ristbond_core.events import LinkStateChanged
from ristbond_core.sim.link_model import LinkModel
from ristbond_core.sim.pair import PairSimulation
from tests.engine.test_engine_pair import RoundRobin

NS_PER_S = 1_000_000_000


class SimRun:
    """Snapshots (JSON round-tripped, as exporters see them) and lifecycle events."""

    def __init__(self) -> None:
        self.snapshots: list[dict[str, Any]] = []
        self.events: list[LinkStateChanged] = []

    def of(self, role: str) -> list[dict[str, Any]]:
        """The snapshots of one role, in order."""
        return [s for s in self.snapshots if s["role"] == role]


def simulate() -> SimRun:
    """Two lossy links; link ``b`` goes down from 2 s to 4 s so its state changes."""
    links = {"a": LinkModel(delay_ms=20, loss=0.03), "b": LinkModel(delay_ms=40, loss=0.03)}
    sim = PairSimulation(
        links, RoundRobin(),
        sender=SenderSettings(latency_ms=400), receiver=ReceiverSettings(latency_ms=400),
        seed=7,
    )
    run = SimRun()
    start_ns = sim.now_ns
    last = [0]

    def sample(sim: PairSimulation, now_ns: int) -> None:
        elapsed_s = (now_ns - start_ns) / NS_PER_S
        links["b"].up = not 2.0 <= elapsed_s < 4.0
        if now_ns - last[0] >= NS_PER_S // 4:
            last[0] = now_ns
            run.snapshots.append(sim.sender.stats(now_ns))
            run.snapshots.append(sim.receiver.stats(now_ns))

    result = sim.run(6.0, packets_per_s=300, on_time=sample)
    run.snapshots = [json.loads(json.dumps(s)) for s in run.snapshots]
    run.events = [e for e in result.events if isinstance(e, LinkStateChanged)]
    return run


@pytest.fixture(scope="session")
def sim_run() -> SimRun:
    """One simulated run shared by the whole telemetry suite (it is deterministic)."""
    return simulate()


@pytest.fixture
def sender_snapshot(sim_run: SimRun) -> dict[str, Any]:
    """The last sender snapshot."""
    return sim_run.of("sender")[-1]


@pytest.fixture
def receiver_snapshot(sim_run: SimRun) -> dict[str, Any]:
    """The last receiver snapshot."""
    return sim_run.of("receiver")[-1]
