"""The ``otel`` exporter: snapshot fields become OpenTelemetry metrics, read back exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import AggregationTemporality, Gauge, Sum
from pydantic import ValidationError
from ristbond_telemetry_otel.metrics import ALL_METRICS, STATE_METRIC
from ristbond_telemetry_otel.options import OtelOptions
from ristbond_telemetry_otel.plugin import live_exporters

from ristbond_core.contracts import LinkState
from ristbond_core.events import LinkStateChanged
from ristbond_core.plugins import PluginHost
from tests.telemetry.otel_support import harness

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "stats.schema.json").read_text()
)
# Snapshot fields that are identities or labels, not measurements.
NOT_MEASURED = {"id", "state", "loss_kind", "ssrc"}


def test_every_numeric_schema_field_has_a_metric() -> None:
    mapped = {(source.role, spec.scope, source.key.split(".")[-1])
              for spec in ALL_METRICS for source in spec.sources}
    for role in ("sender", "receiver"):
        props = SCHEMA["$defs"][role]["properties"]
        for scope, fields in (("flow", props["flow"]["required"]),
                              ("link", props["links"]["items"]["required"])):
            for name in set(fields) - NOT_MEASURED:
                assert (role, scope, name) in mapped, f"{role} {scope}.{name} has no metric"


def test_metric_names_are_unique_and_namespaced() -> None:
    names = [spec.name for spec in ALL_METRICS]
    assert len(names) == len(set(names))
    assert all(name.startswith("ristbond.") for name in names)


def test_link_gauges_carry_link_flow_and_role(sender_snapshot: dict[str, Any],
                                              receiver_snapshot: dict[str, Any]) -> None:
    with harness() as h:
        h.exporter.export(sender_snapshot)
        h.exporter.export(receiver_snapshot)
        metrics = h.metrics()
        rtt = metrics["ristbond.link.rtt"]
        assert rtt.unit == "ms"
        assert isinstance(rtt.data, Gauge)
        flow_id = str(sender_snapshot["flow"]["ssrc"])
        for link in sender_snapshot["links"]:
            assert h.value("ristbond.link.rtt", role="sender", link_id=link["id"],
                           flow_id=flow_id) == pytest.approx(link["rtt_ms"])
            assert h.value("ristbond.link.capacity", link_id=link["id"]) == \
                pytest.approx(link["capacity_bps"])
            share = h.value("ristbond.link.share", link_id=link["id"])
            assert share == pytest.approx(link["share"])
        for link in receiver_snapshot["links"]:
            assert h.value("ristbond.link.jitter", role="receiver", link_id=link["id"]) == \
                pytest.approx(link["jitter_ms"])
        assert metrics["ristbond.link.capacity"].unit == "bit/s"


def test_loss_is_labelled_by_kind(sender_snapshot: dict[str, Any],
                                  receiver_snapshot: dict[str, Any]) -> None:
    with harness() as h:
        h.exporter.export(sender_snapshot)
        h.exporter.export(receiver_snapshot)
        link = sender_snapshot["links"][0]
        assert h.value("ristbond.link.loss", link_id=link["id"], loss_kind="attributed") == \
            pytest.approx(link["loss"])
        assert h.value("ristbond.link.packets.lost", link_id=link["id"],
                       loss_kind="attributed") == link["attributed_losses"]
        assert h.value("ristbond.flow.packets.lost", role="receiver", loss_kind="residual") == \
            receiver_snapshot["flow"]["lost"]


def test_cumulative_counters_report_the_snapshot_totals_without_double_counting(
    sim_run: Any,
) -> None:
    senders = sim_run.of("sender")
    with harness() as h:
        h.exporter.export(senders[5])
        metric = h.metrics()["ristbond.flow.packets.sent"]
        assert isinstance(metric.data, Sum)
        assert metric.data.is_monotonic
        assert metric.data.aggregation_temporality == AggregationTemporality.CUMULATIVE
        assert metric.unit == "{packet}"
        assert h.value("ristbond.flow.packets.sent") == senders[5]["flow"]["packets_sent"]
        # Collecting again without a new snapshot changes nothing.
        assert h.value("ristbond.flow.packets.sent") == senders[5]["flow"]["packets_sent"]
        h.exporter.export(senders[-1])
        assert h.value("ristbond.flow.packets.sent") == senders[-1]["flow"]["packets_sent"]
        for link in senders[-1]["links"]:
            assert h.value("ristbond.link.sent", link_id=link["id"]) == link["sent_bytes"]


def test_receiver_flow_and_buffer_metrics(receiver_snapshot: dict[str, Any]) -> None:
    flow = receiver_snapshot["flow"]
    with harness() as h:
        h.exporter.export(receiver_snapshot)
        assert h.value("ristbond.flow.packets.received") == flow["received"]
        assert h.value("ristbond.flow.packets.recovered") == flow["recovered"]
        assert h.value("ristbond.flow.packets.late") == flow["late"]
        assert h.value("ristbond.flow.packets.duplicate") == flow["duplicate"]
        assert h.value("ristbond.flow.retransmits.received") == flow["retransmitted_received"]
        assert h.value("ristbond.flow.buffer.duration") == flow["buffer_ms"]
        assert h.value("ristbond.flow.nack.abandoned", reason="deadline") == \
            flow["nack_abandoned_deadline"]
        assert h.metrics()["ristbond.flow.buffer.size"].unit == "By"


def test_the_state_gauge_is_one_for_the_current_state(sender_snapshot: dict[str, Any]) -> None:
    with harness() as h:
        h.exporter.export(sender_snapshot)
        for link in sender_snapshot["links"]:
            states = {a["link.state"]: v for a, v in h.points(STATE_METRIC.name)
                      if a["link.id"] == link["id"]}
            assert states[link["state"]] == 1
            assert sum(states.values()) == 1
            assert len(states) == len(LinkState)


def transitions(points: list[tuple[dict[str, Any], float]]) -> dict[tuple[str, str, str], float]:
    return {(a["link.id"], a["link.state.from"], a["link.state.to"]): v for a, v in points}


def test_transitions_are_inferred_from_snapshots_without_lifecycle_events(
    sim_run: Any,
) -> None:
    expected: dict[tuple[str, str, str], int] = {}
    previous: dict[str, str] = {}
    for snapshot in sim_run.of("sender"):
        for link in snapshot["links"]:
            old = previous.get(link["id"])
            if old is not None and old != link["state"]:
                key = (link["id"], old, link["state"])
                expected[key] = expected.get(key, 0) + 1
            previous[link["id"]] = link["state"]
    assert ("b", "live", "cooldown") in expected  # the outage of link b is visible
    with harness() as h:
        for snapshot in sim_run.snapshots:
            h.exporter.export(snapshot)
        assert transitions(h.points("ristbond.link.state.transitions")) == expected
        bodies = [str(r.log_record.body) for r in h.logs.get_finished_logs()]
        assert "link b: live -> cooldown (observed between snapshots)" in bodies


def test_lifecycle_events_are_counted_exactly_and_logged(sim_run: Any) -> None:
    with harness() as h:
        h.exporter.export(sim_run.of("sender")[0])
        for event in sim_run.events:
            h.exporter.on_link_state_changed(event)
        for snapshot in sim_run.snapshots:  # after events, snapshots add no counts
            h.exporter.export(snapshot)
        counted = transitions(h.points("ristbond.link.state.transitions"))
        expected: dict[tuple[str, str, str], int] = {}
        for e in sim_run.events:
            key = (e.link_id, e.old.value, e.new.value)
            expected[key] = expected.get(key, 0) + 1
        assert counted == expected
        records = [r.log_record for r in h.logs.get_finished_logs()]
        assert len(records) == len(sim_run.events)
        first = records[0]
        assert first.event_name == "ristbond.link.state_changed"
        assert dict(first.attributes or {})["link.state.to"] == sim_run.events[0].new.value
        assert "reason" in dict(first.attributes or {})


def test_the_plugin_registers_otel_and_forwards_the_lifecycle_hook() -> None:
    host = PluginHost.discover({"RISTBOND_PLUGINS": "core,otel"})
    backend = host.require("telemetry", "otel", "telemetry.exporters[0]")
    options = host.validate_options("telemetry", "otel", {"prometheus_port": 0},
                                    "telemetry.exporters[0]", "telemetry.options.otel")
    exporter = backend.factory(options)
    try:
        assert exporter in live_exporters()
        host.notify_link_state_changed(
            LinkStateChanged("lte1", LinkState.WARM, LinkState.LIVE, "warm_done", 5)
        )
        text = exporter.render_prometheus()
        assert 'link_id="lte1"' in text
        assert "ristbond_link_state_transitions_total" in text
    finally:
        exporter.close()


@pytest.mark.parametrize(
    "options",
    [{"exporter": ["otlp"]}, {"exporters": []}, {"exporters": ["statsd"]},
     {"exporters": ["otlp", "otlp"]}, {"otlp_endpoint": "grpc://x:4317"},
     {"prometheus_port": 70000}],
)
def test_bad_options_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        OtelOptions.model_validate(options)


def test_docs_list_every_metric_with_its_unit() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "telemetry.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line.split("|")[4].strip().strip("`")
            for line in text.splitlines() if line.startswith("| `ristbond.")}
    assert rows == {spec.name: spec.unit for spec in ALL_METRICS}
