"""Every stats snapshot the engines emit validates against the published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ristbond_core.engine.receiver import FlowCounters, ReceiverSettings
from ristbond_core.engine.sender import SenderCounters, SenderSettings
from ristbond_core.sim.link_model import LinkModel
from ristbond_core.sim.pair import PairSimulation
from tests.engine.test_engine_pair import RoundRobin

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "stats.schema.json").read_text()
)


@pytest.fixture(scope="module")
def snapshots() -> list[dict[str, Any]]:
    sim = PairSimulation(
        {"a": LinkModel(delay_ms=20, loss=0.05), "b": LinkModel(delay_ms=40, loss=0.05)},
        RoundRobin(),
        sender=SenderSettings(latency_ms=400),
        receiver=ReceiverSettings(latency_ms=400),
        seed=5,
    )
    taken: list[dict[str, Any]] = []

    def sample(sim: PairSimulation, now_ns: int) -> None:
        if not taken or now_ns - taken[-1]["monotonic_ns"] >= 500_000_000:
            taken.append(sim.sender.stats(now_ns))
            taken.append(sim.receiver.stats(now_ns))

    sim.run(3.0, packets_per_s=400, on_time=sample)
    # Round-trip through JSON, as exporters do.
    return [json.loads(json.dumps(snapshot)) for snapshot in taken]


def test_snapshots_validate(snapshots: list[dict[str, Any]]) -> None:
    assert len(snapshots) >= 10
    for snapshot in snapshots:
        jsonschema.validate(snapshot, SCHEMA)


def test_seq_increases_by_one_per_node(snapshots: list[dict[str, Any]]) -> None:
    for role in ("sender", "receiver"):
        seqs = [s["seq"] for s in snapshots if s["role"] == role]
        assert seqs == list(range(1, len(seqs) + 1))


def test_counters_are_cumulative(snapshots: list[dict[str, Any]]) -> None:
    for role, counters in (("sender", SenderCounters), ("receiver", FlowCounters)):
        series = [s["flow"] for s in snapshots if s["role"] == role]
        for name in counters.__slots__:
            values = [flow[name] for flow in series]
            assert values == sorted(values), f"{role} {name} went down: {values}"


def test_the_schema_names_every_counter() -> None:
    sender = SCHEMA["$defs"]["sender"]["properties"]["flow"]["required"]
    receiver = SCHEMA["$defs"]["receiver"]["properties"]["flow"]["required"]
    assert set(SenderCounters.__slots__) <= set(sender)
    assert set(FlowCounters.__slots__) <= set(receiver)


def test_a_broken_snapshot_is_rejected(snapshots: list[dict[str, Any]]) -> None:
    broken = json.loads(json.dumps(snapshots[0]))
    del broken["flow"][next(iter(broken["flow"]))]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)
