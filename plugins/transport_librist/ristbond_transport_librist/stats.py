"""librist's stats JSON turned into ``SessionLinkReport``s.

librist 0.2.7 reports one JSON object per callback, values per interval (not cumulative):

* sender, one per peer: ``{"sender-stats": {"peer": {"flow_id", "id", "cname", "type",
  "stats": {"sent", "received", "retransmitted", "bandwidth", "retry_bandwidth", "rtt",
  "avg_rtt", "quality", ...}}}}``. ``id`` is the peer id librist assigned when the
  transport created the peer (it logs "peer_id N" then), so ``id`` maps back to a link;
  ``cname`` is the *remote* receiver's name, not ours.
* receiver, one per flow: ``{"receiver-stats": {"flowinstant": {"flow_id", "dead",
  "stats": {"received", "missing", "lost", "recovered_total", "bitrate", ...},
  "peers": [{"id", "dead", "stats": {"received_data", "rtt", "avg_rtt", "bitrate",
  ...}}]}}}``. Receiver peer ids are librist's own (one per connecting sender link); the
  transport maps them to the sender's cname (librist logs "Peer N receiver name is now:
  CNAME"), and a ristbond sender announces each link id as its cname.

A sender peer's ``retransmitted`` counts the retransmissions *that peer sent*, which
says where NACKs were answered, not which link lost packets (see ``loss_attribution``).
So ``parse`` leaves the sender's ``LinkMetrics.loss`` at 0 and gives each report an
``originals`` counter (``sent - retransmitted``); the transport attributes loss over
all links and fills it in with ``attributed``. The receiver has no per-peer loss in the
JSON either, so its per-peer reports carry ``loss = 0``; the flow's numbers come
separately as ``flow_*`` counters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ristbond_core.contracts import LinkMetrics, SessionLinkReport


@dataclass(frozen=True, slots=True)
class ParsedStats:
    """One stats callback's content: per-link reports and flow-level numbers."""

    reports: list[SessionLinkReport]
    flow_counters: dict[str, float]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _counters(stats: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in stats.items():
        number = _number(value)
        if number is not None:
            out[prefix + key] = number
    return out


def _rtt(stats: Mapping[str, Any]) -> float | None:
    rtt = _number(stats.get("rtt"))
    return rtt if rtt is not None and rtt > 0 else None


def parse_sender(document: Mapping[str, Any], measured_ns: int,
                 link_of_peer: Callable[[int], str | None], interval_ms: int) -> ParsedStats:
    """A sender peer report; peers ``link_of_peer`` does not know are skipped."""
    peer = document.get("sender-stats", {}).get("peer", {})
    peer_id = peer.get("id")
    stats = peer.get("stats", {})
    if not isinstance(peer_id, int) or not isinstance(stats, Mapping):
        return ParsedStats([], {})
    link_id = link_of_peer(peer_id)
    if link_id is None:
        return ParsedStats([], {})
    metrics = LinkMetrics(rtt_ms=_rtt(stats), delivery_rate_bps=_number(stats.get("bandwidth")))
    counters = _counters(stats)
    counters["peer_id"] = float(peer_id)
    counters.update(_core_sender_counters(stats, interval_ms))
    report = SessionLinkReport(link_id, measured_ns, metrics, counters)
    return ParsedStats([attributed(report, 0.0)], {})


def _core_sender_counters(stats: Mapping[str, Any], interval_ms: int) -> dict[str, float]:
    """The counter names the core reads (see ``SessionLinkReport``), and ``originals``.

    librist gives packets and a bit rate per interval, not bytes: ``sent_bytes`` is the
    rate over the interval. ``answered`` is 1 when the receiver sent RTCP back on this
    peer during the interval, which is what tells the lifecycle the link is alive.
    """
    bandwidth = _number(stats.get("bandwidth")) or 0.0
    sent = _number(stats.get("sent")) or 0.0
    retransmitted = _number(stats.get("retransmitted")) or 0.0
    return {
        "sent_packets": sent,
        "retransmitted_packets": retransmitted,
        "originals": max(0.0, sent - retransmitted),
        "sent_bytes": bandwidth * interval_ms / 8000.0,
        "answered": float((_number(stats.get("received")) or 0.0) > 0),
    }


def attributed(report: SessionLinkReport, loss: float) -> SessionLinkReport:
    """A sender report with its attributed ``loss`` and the matching ``delivered_bytes``
    (the part of ``sent_bytes`` not lost, and 0 when the receiver did not answer)."""
    counters = dict(report.counters)
    answered = counters.get("answered", 0.0) > 0
    counters["delivered_bytes"] = (counters.get("sent_bytes", 0.0) * (1.0 - loss)
                                   if answered else 0.0)
    return replace(report, metrics=replace(report.metrics, loss=loss), counters=counters)


def parse_receiver(document: Mapping[str, Any], measured_ns: int,
                   link_of_peer: Callable[[int], str]) -> ParsedStats:
    """A receiver flow report: one report per peer of the flow, plus the flow's counters."""
    flow = document.get("receiver-stats", {}).get("flowinstant", {})
    flow_stats = flow.get("stats", {})
    flow_counters = _counters(flow_stats, "flow_") if isinstance(flow_stats, Mapping) else {}
    reports: list[SessionLinkReport] = []
    for peer in flow.get("peers", []):
        if not isinstance(peer, Mapping) or not isinstance(peer.get("id"), int):
            continue
        stats = peer.get("stats", {})
        if not isinstance(stats, Mapping):
            continue
        metrics = LinkMetrics(rtt_ms=_rtt(stats), delivery_rate_bps=_number(stats.get("bitrate")))
        counters = _counters(stats)
        counters["peer_id"] = float(peer["id"])
        counters["dead"] = float(bool(peer.get("dead")))
        counters["received_packets"] = _number(stats.get("received_data")) or 0.0
        reports.append(SessionLinkReport(link_of_peer(peer["id"]), measured_ns, metrics,
                                         counters))
    return ParsedStats(reports, flow_counters)


def parse(text: str, measured_ns: int, link_of_peer: Callable[[int], str | None],
          interval_ms: int = 1000) -> ParsedStats:
    """Any librist stats JSON; malformed or unknown documents give an empty result.

    ``interval_ms`` is the stats interval the session was started with.
    """
    try:
        document = json.loads(text)
    except ValueError:
        return ParsedStats([], {})
    if not isinstance(document, dict):
        return ParsedStats([], {})
    if "sender-stats" in document:
        return parse_sender(document, measured_ns, link_of_peer, interval_ms)
    if "receiver-stats" in document:
        return parse_receiver(document, measured_ns,
                              lambda peer_id: link_of_peer(peer_id) or f"peer-{peer_id}")
    return ParsedStats([], {})
