"""Which snapshot field becomes which OpenTelemetry metric, with unit and attributes.

The table is data so the docs and a drift test can walk it: every cumulative counter
of the stats schema must appear here. Cumulative counters become *observable
counters* reporting the snapshot's own total (the SDK exports totals as they are, so
nothing is counted twice); current estimates become *observable gauges*.

Attributes: ``role`` (sender/receiver) and ``flow.id`` (the SSRC) on everything,
``link.id`` on per-link metrics, and ``loss.kind`` (``attributed`` channel loss
charged to a link vs ``residual`` loss left after ARQ) wherever loss is counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["counter", "gauge"]
Scope = Literal["link", "flow", "node"]

LINK_STATES = ("init", "probe", "warm", "live", "degrade", "cooldown", "reset")


@dataclass(frozen=True, slots=True)
class Source:
    """One snapshot field feeding a metric: ``role``'s ``scope`` object, key ``key``."""

    role: str
    key: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric: its name, kind, unit, meaning, scope and the fields that feed it."""

    name: str
    kind: Kind
    unit: str
    description: str
    scope: Scope
    sources: tuple[Source, ...]


S, R = "sender", "receiver"
ATTRIBUTED = {"loss.kind": "attributed"}
RESIDUAL = {"loss.kind": "residual"}


def _m(name: str, kind: Kind, unit: str, scope: Scope, description: str,
       *sources: Source) -> MetricSpec:
    return MetricSpec(name, kind, unit, description, scope, sources)


LINK_METRICS: tuple[MetricSpec, ...] = (
    _m("ristbond.link.rtt", "gauge", "ms", "link", "smoothed round-trip time of the link",
       Source(S, "rtt_ms"), Source(R, "rtt_ms")),
    _m("ristbond.link.rtt.min", "gauge", "ms", "link", "lowest round-trip time seen (baseline)",
       Source(S, "min_rtt_ms")),
    _m("ristbond.link.jitter", "gauge", "ms", "link", "interarrival jitter",
       Source(S, "jitter_ms"), Source(R, "jitter_ms")),
    _m("ristbond.link.loss", "gauge", "1", "link",
       "fraction of the link's packets the receiver NACKed (attributed channel loss)",
       Source(S, "loss", ATTRIBUTED)),
    _m("ristbond.link.capacity", "gauge", "bit/s", "link", "estimated capacity of the link",
       Source(S, "capacity_bps")),
    _m("ristbond.link.capacity.measured", "gauge", "1", "link",
       "1 when the capacity is measured (a full link or packet pairs), 0 for a lower bound",
       Source(S, "capacity_measured")),
    _m("ristbond.link.bottleneck", "gauge", "bit/s", "link",
       "the link's bottleneck rate measured by packet pairs (median over 2 s)",
       Source(S, "bottleneck_bps")),
    _m("ristbond.link.delivery_rate", "gauge", "bit/s", "link",
       "delivery rate the receiver reports for the link", Source(S, "delivery_rate_bps")),
    _m("ristbond.link.share", "gauge", "1", "link", "scheduler's target share of traffic",
       Source(S, "share")),
    _m("ristbond.link.weight", "gauge", "1", "link", "configured/scheduler weight",
       Source(S, "weight")),
    _m("ristbond.link.admission", "gauge", "1", "link",
       "lifecycle ramp factor (0 = no traffic admitted, 1 = full)", Source(S, "admission")),
    _m("ristbond.link.feedback.age", "gauge", "ms", "link", "time since the last feedback",
       Source(S, "feedback_age_ms")),
    _m("ristbond.link.extra_delay", "gauge", "ms", "link",
       "one-way delay above the fastest link's", Source(R, "extra_delay_ms")),
    _m("ristbond.link.last_packet.age", "gauge", "ms", "link",
       "time since the link last delivered a packet", Source(R, "last_packet_age_ms")),
    _m("ristbond.link.return_path", "gauge", "1", "link",
       "1 when RTCP can be sent back over the link", Source(R, "has_return_path")),
    _m("ristbond.link.packets.sent", "counter", "{packet}", "link",
       "packets sent on the link, retransmissions included", Source(S, "sent_packets")),
    _m("ristbond.link.sent", "counter", "By", "link", "bytes sent on the link",
       Source(S, "sent_bytes")),
    _m("ristbond.link.retransmits.sent", "counter", "{packet}", "link",
       "retransmissions sent on the link", Source(S, "retransmitted")),
    _m("ristbond.link.packets.lost", "counter", "{packet}", "link",
       "packets the receiver NACKed, charged to the link that carried them",
       Source(S, "attributed_losses", ATTRIBUTED)),
    _m("ristbond.link.packets.late", "counter", "{packet}", "link",
       "first transmissions that arrived on the link after their NACK (late, not lost)",
       Source(S, "late_originals"), Source(R, "late_originals")),
    _m("ristbond.link.packets.received", "counter", "{packet}", "link",
       "packets received on the link", Source(R, "received_packets")),
    _m("ristbond.link.received", "counter", "By", "link", "bytes received on the link",
       Source(R, "received_bytes")),
    _m("ristbond.link.retransmits.received", "counter", "{packet}", "link",
       "retransmissions received on the link", Source(R, "retransmits_received")),
    _m("ristbond.link.packets.duplicate", "counter", "{packet}", "link",
       "packets received on the link that had already arrived", Source(R, "duplicates")),
    _m("ristbond.link.probe_pairs", "counter", "{pair}", "link",
       "packet pairs the receiver timed on the link", Source(R, "probe_pairs")),
)

FLOW_METRICS: tuple[MetricSpec, ...] = (
    _m("ristbond.flow.input.datagrams", "counter", "{datagram}", "flow",
       "datagrams read from the input", Source(S, "input_datagrams")),
    _m("ristbond.flow.input", "counter", "By", "flow", "bytes read from the input",
       Source(S, "input_bytes")),
    _m("ristbond.flow.packets.packetized", "counter", "{packet}", "flow",
       "RTP packets made from the input", Source(S, "packets")),
    _m("ristbond.flow.packets.sent", "counter", "{packet}", "flow",
       "packets sent over all links, retransmissions included", Source(S, "packets_sent")),
    _m("ristbond.flow.sent", "counter", "By", "flow", "bytes sent over all links",
       Source(S, "bytes_sent")),
    _m("ristbond.flow.packets.fallback_broadcast", "counter", "{packet}", "flow",
       "packets sent on every link because no link was usable", Source(S, "fallback_broadcast")),
    _m("ristbond.flow.nacks.received", "counter", "{nack}", "flow", "NACK packets received",
       Source(S, "nacks_received")),
    _m("ristbond.flow.nacks.headerless", "counter", "{nack}", "flow",
       "NACK entries received without their RTPFB header (GStreamer ristsrc) and answered",
       Source(S, "bare_nacks")),
    _m("ristbond.flow.nack.requested", "counter", "{packet}", "flow",
       "sequence numbers requested by NACKs", Source(S, "nack_requested")),
    _m("ristbond.flow.nack.unknown", "counter", "{packet}", "flow",
       "requested packets no longer (or never) in the retransmit store", Source(S, "nack_unknown")),
    _m("ristbond.flow.nack.suppressed", "counter", "{packet}", "flow",
       "requests ignored because a retransmission was already on its way",
       Source(S, "nack_suppressed")),
    _m("ristbond.flow.retransmits.sent", "counter", "{packet}", "flow",
       "retransmissions sent", Source(S, "retransmitted")),
    _m("ristbond.flow.retransmits.too_late", "counter", "{packet}", "flow",
       "retransmissions skipped because they could not meet the deadline",
       Source(S, "retransmit_too_late")),
    _m("ristbond.flow.retransmits.budget_exhausted", "counter", "{packet}", "flow",
       "retransmissions refused by the retry budget", Source(S, "retransmit_budget_exhausted")),
    _m("ristbond.flow.tail_probes", "counter", "{packet}", "flow",
       "last packets resent after the input paused (tail loss probes)", Source(S, "tail_probes")),
    _m("ristbond.flow.capacity_probes", "counter", "{packet}", "flow",
       "packet pairs sent to time a link (split datagrams or copies)",
       Source(S, "capacity_probes")),
    _m("ristbond.flow.capacity_probes.sent", "counter", "By", "flow",
       "bytes spent on packet pairs (a header per split, the payload per copy)",
       Source(S, "capacity_probe_bytes")),
    _m("ristbond.flow.probe_pairs", "counter", "{pair}", "flow",
       "packet pairs the receiver timed", Source(R, "probe_pairs")),
    _m("ristbond.flow.retransmit_store.packets", "gauge", "{packet}", "flow",
       "packets kept for retransmission", Source(S, "store_packets")),
    _m("ristbond.flow.retransmit_store.size", "gauge", "By", "flow",
       "bytes kept for retransmission", Source(S, "store_bytes")),
    _m("ristbond.flow.packets.received", "counter", "{packet}", "flow",
       "packets received over all links", Source(R, "received")),
    _m("ristbond.flow.received", "counter", "By", "flow", "bytes received over all links",
       Source(R, "received_bytes")),
    _m("ristbond.flow.retransmits.received", "counter", "{packet}", "flow",
       "retransmissions received", Source(R, "retransmitted_received")),
    _m("ristbond.flow.packets.recovered", "counter", "{packet}", "flow",
       "missing packets filled by a retransmission in time", Source(R, "recovered")),
    _m("ristbond.flow.packets.lost", "counter", "{packet}", "flow",
       "packets still missing at their playout deadline (residual loss, after ARQ)",
       Source(R, "lost", RESIDUAL)),
    _m("ristbond.flow.packets.late", "counter", "{packet}", "flow",
       "packets that arrived after their playout deadline", Source(R, "late")),
    _m("ristbond.flow.packets.duplicate", "counter", "{packet}", "flow",
       "packets that had already arrived", Source(R, "duplicate")),
    _m("ristbond.flow.packets.reordered", "counter", "{packet}", "flow",
       "packets that arrived out of order", Source(R, "reordered")),
    _m("ristbond.flow.packets.output", "counter", "{packet}", "flow", "packets played out",
       Source(R, "output_packets")),
    _m("ristbond.flow.output", "counter", "By", "flow", "bytes played out",
       Source(R, "output_bytes")),
    _m("ristbond.flow.splits.joined", "counter", "{datagram}", "flow",
       "split datagrams (packet pairs) put out whole again", Source(R, "joined_splits")),
    _m("ristbond.flow.nacks.sent", "counter", "{nack}", "flow", "NACK packets sent",
       Source(R, "nacks_sent")),
    _m("ristbond.flow.nack.requests", "counter", "{packet}", "flow",
       "missing packets asked for (each retry counts)", Source(R, "nack_requests")),
    _m("ristbond.flow.nack.abandoned", "counter", "{packet}", "flow",
       "missing packets no longer asked for, by reason",
       Source(R, "nack_abandoned_deadline", {"reason": "deadline"}),
       Source(R, "nack_abandoned_retries", {"reason": "retries"})),
    _m("ristbond.flow.packets.rejected", "counter", "{packet}", "flow",
       "packets dropped at the boundary, by reason",
       Source(R, "foreign_ssrc", {"reason": "foreign_ssrc"}),
       Source(R, "out_of_window", {"reason": "out_of_window"}),
       Source(R, "implausible_timestamp", {"reason": "implausible_timestamp"}),
       Source(R, "untrusted", {"reason": "untrusted"}),
       Source(R, "overflow", {"reason": "overflow"})),
    _m("ristbond.flow.malformed", "counter", "{datagram}", "flow",
       "malformed datagrams dropped", Source(S, "malformed"), Source(R, "malformed")),
    _m("ristbond.flow.rtcp.received", "counter", "{packet}", "flow", "RTCP packets received",
       Source(S, "rtcp_received"), Source(R, "rtcp_received")),
    _m("ristbond.flow.events.dropped", "counter", "{event}", "flow",
       "engine events dropped because nobody drained them",
       Source(S, "events_dropped"), Source(R, "events_dropped")),
    _m("ristbond.flow.clock_steps", "counter", "{step}", "flow",
       "steps of the engine's own clock absorbed (time kept running continuously)",
       Source(S, "clock_steps"), Source(R, "clock_steps")),
    _m("ristbond.flow.stalls", "counter", "{stall}", "flow",
       "forward clock jumps that proved to be the process stalling",
       Source(R, "stalls")),
    _m("ristbond.flow.timing_rebases", "counter", "{rebase}", "flow",
       "times the playout mapping moved up to a lasting rise of every link's transit",
       Source(R, "timing_rebases")),
    _m("ristbond.flow.resets", "counter", "{reset}", "flow",
       "times the receiver re-synchronised to the flow", Source(R, "flow_resets")),
    _m("ristbond.flow.links.refused", "counter", "{link}", "flow",
       "new links refused (link limit)", Source(R, "links_refused")),
    _m("ristbond.flow.links.expired", "counter", "{link}", "flow",
       "silent links forgotten to make room for new paths", Source(R, "links_expired")),
    _m("ristbond.flow.packets.missing", "gauge", "{packet}", "flow",
       "packets missing right now (being recovered)", Source(R, "missing_now")),
    _m("ristbond.flow.buffer.packets", "gauge", "{packet}", "flow",
       "packets waiting in the playout buffer", Source(R, "buffer_packets")),
    _m("ristbond.flow.buffer.size", "gauge", "By", "flow",
       "bytes waiting in the playout buffer", Source(R, "buffer_bytes")),
    _m("ristbond.flow.buffer.duration", "gauge", "ms", "flow",
       "media time held in the playout buffer", Source(R, "buffer_ms")),
)

NODE_METRICS: tuple[MetricSpec, ...] = (
    _m("ristbond.node.uptime", "gauge", "ms", "node", "time since the engine started",
       Source(S, "uptime_ms"), Source(R, "uptime_ms")),
    _m("ristbond.node.snapshot.seq", "gauge", "1", "node",
       "sequence number of the last snapshot (a jump means lost snapshots)",
       Source(S, "seq"), Source(R, "seq")),
    _m("ristbond.derived.latency", "gauge", "ms", "node", "configured latency budget",
       Source(S, "derived.latency_ms"), Source(R, "derived.latency_ms")),
    _m("ristbond.derived.rtt", "gauge", "ms", "node", "RTT the timers use (assumed until measured)",
       Source(S, "derived.rtt_ms"), Source(R, "derived.rtt_ms")),
    _m("ristbond.derived.reorder_window", "gauge", "ms", "node",
       "how long a gap may be reordering before it is NACKed",
       Source(S, "derived.reorder_window_ms"), Source(R, "derived.reorder_window_ms")),
    _m("ristbond.derived.nack_retry_interval", "gauge", "ms", "node", "time between NACK retries",
       Source(S, "derived.nack_retry_interval_ms"), Source(R, "derived.nack_retry_interval_ms")),
    _m("ristbond.derived.retransmit_store", "gauge", "ms", "node",
       "how long the sender keeps packets",
       Source(S, "derived.retransmit_store_ms"), Source(R, "derived.retransmit_store_ms")),
)

STATE_METRIC = MetricSpec(
    "ristbond.link.state", "gauge", "1",
    "lifecycle state: 1 for the link's current link.state, 0 for the others", "link",
    (Source(S, "state"),),
)
TRANSITIONS_METRIC = MetricSpec(
    "ristbond.link.state.transitions", "counter", "{transition}",
    "lifecycle transitions, by from/to state", "link", (),
)

ALL_METRICS: tuple[MetricSpec, ...] = (
    *LINK_METRICS, *FLOW_METRICS, *NODE_METRICS, STATE_METRIC, TRANSITIONS_METRIC,
)

Observation = tuple[float, dict[str, str]]


def _number(value: Any) -> float | None:
    """Numbers and booleans as float; anything else (None, strings) is not observed."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _lookup(document: Mapping[str, Any], dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def base_attributes(snapshot: Mapping[str, Any]) -> dict[str, str]:
    """``role`` and ``flow.id`` of a snapshot (``flow.id`` is empty before the first packet)."""
    ssrc = _lookup(snapshot, "flow.ssrc")
    return {"role": str(snapshot.get("role")), "flow.id": "" if ssrc is None else str(ssrc)}


def observe(spec: MetricSpec, snapshots: Mapping[str, Mapping[str, Any]]) -> Iterator[Observation]:
    """Every (value, attributes) ``spec`` reports for the latest snapshot of each role."""
    for source in spec.sources:
        snapshot = snapshots.get(source.role)
        if snapshot is None:
            continue
        base = {**base_attributes(snapshot), **source.attributes}
        if spec.scope == "node":
            value = _number(_lookup(snapshot, source.key))
            if value is not None:
                yield value, base
        elif spec.scope == "flow":
            value = _number(_lookup(snapshot, "flow." + source.key))
            if value is not None:
                yield value, base
        else:
            for link in snapshot.get("links") or []:
                if not isinstance(link, Mapping):
                    continue
                value = _number(link.get(source.key))
                if value is not None:
                    yield value, {**base, "link.id": str(link.get("id"))}


def observe_states(snapshots: Mapping[str, Mapping[str, Any]]) -> Iterator[Observation]:
    """One series per (link, state): 1 for the current state, 0 for the others."""
    snapshot = snapshots.get(S)
    if snapshot is None:
        return
    base = base_attributes(snapshot)
    for link in snapshot.get("links") or []:
        if not isinstance(link, Mapping):
            continue
        current = link.get("state")
        for state in LINK_STATES:
            yield (1.0 if state == current else 0.0,
                   {**base, "link.id": str(link.get("id")), "link.state": state})


def link_states(snapshot: Mapping[str, Any]) -> dict[str, str]:
    """link id → lifecycle state of a sender snapshot."""
    return {str(link.get("id")): str(link.get("state"))
            for link in snapshot.get("links") or []
            if isinstance(link, Mapping) and link.get("state") is not None}


ObserveFn = Callable[[Mapping[str, Mapping[str, Any]]], Iterator[Observation]]


def observer_for(spec: MetricSpec) -> ObserveFn:
    """The function computing ``spec``'s observations from the latest snapshots."""
    if spec is STATE_METRIC:
        return observe_states
    return lambda snapshots: observe(spec, snapshots)
