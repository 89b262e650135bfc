"""Parsing librist stats JSON captured from real sessions (fixtures/*.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ristbond_transport_librist.stats import attributed, parse

FIXTURES = Path(__file__).parent / "fixtures"


def samples(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def test_sender_peer_stats_map_peer_ids_to_links() -> None:
    peers = {1: "cell-a", 2: "cell-b"}
    reports = [r for text in samples("sender_peer_stats.jsonl")
               for r in parse(text, 7, peers.get).reports]
    assert [r.link_id for r in reports] == ["cell-a", "cell-b"]
    first = reports[0]
    assert first.measured_ns == 7
    assert first.metrics.rtt_ms == 4.0
    assert first.metrics.delivery_rate_bps == 1480473.0
    assert first.metrics.loss == 0.0
    assert first.counters["sent"] == 123.0
    assert first.counters["peer_id"] == 1.0


def test_sender_reports_leave_loss_to_attribution() -> None:
    """A peer's retransmissions are the NACKs it answered, not its own link's losses."""
    document = json.loads(samples("sender_peer_stats.jsonl")[0])
    document["sender-stats"]["peer"]["stats"].update(sent=200, retransmitted=10)
    (report,) = parse(json.dumps(document), 0, {1: "a"}.get).reports
    assert report.metrics.loss == 0.0
    assert report.counters["retransmitted"] == 10.0
    assert report.counters["originals"] == 190.0
    assert report.counters["delivered_bytes"] == report.counters["sent_bytes"] > 0
    lossy = attributed(report, 0.25)
    assert lossy.metrics.loss == 0.25
    assert lossy.counters["delivered_bytes"] == pytest.approx(
        0.75 * report.counters["sent_bytes"])
    assert lossy.metrics.rtt_ms == report.metrics.rtt_ms


def test_an_unanswered_peer_delivers_nothing() -> None:
    document = json.loads(samples("sender_peer_stats.jsonl")[0])
    document["sender-stats"]["peer"]["stats"].update(received=0)
    (report,) = parse(json.dumps(document), 0, {1: "a"}.get).reports
    assert report.counters["sent_bytes"] > 0
    assert attributed(report, 0.0).counters["delivered_bytes"] == 0.0


def test_unknown_sender_peers_are_skipped() -> None:
    assert parse(samples("sender_peer_stats.jsonl")[0], 0, {}.get).reports == []


def test_receiver_flow_stats_give_one_report_per_peer() -> None:
    names = {3: "cell-a"}
    parsed = parse(samples("receiver_flow_stats.jsonl")[0], 5, names.get)
    assert [r.link_id for r in parsed.reports] == ["cell-a", "peer-4"]
    assert parsed.reports[0].counters["received_data"] == 120.0
    assert parsed.reports[0].metrics.delivery_rate_bps == 1449836.0
    assert parsed.reports[0].metrics.rtt_ms is None  # librist reports 0: unknown
    assert parsed.flow_counters["flow_received"] == 240.0
    assert parsed.flow_counters["flow_lost"] == 0.0


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"other": 1}',
                                  '{"sender-stats": {"peer": {"id": "x"}}}',
                                  '{"receiver-stats": {"flowinstant": {"peers": [1, {}]}}}'])
def test_malformed_documents_give_no_reports(text: str) -> None:
    assert parse(text, 0, {1: "a"}.get).reports == []
