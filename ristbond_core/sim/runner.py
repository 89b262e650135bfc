"""Run one scenario with one scheduler and seed; record what metrics and plots need.

The runner owns the timeline (applies each :class:`Action` when its time comes), takes
a stats sample of both engines every :data:`SAMPLE_INTERVAL_NS` of simulated time, and
watches every datagram arriving at the receiver to tell spurious retransmissions
apart (a resent packet whose original, or an earlier copy, had already arrived).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ristbond_core.engine.common import NS_PER_MS, NS_PER_S
from ristbond_core.engine.receiver import ReceiverSettings
from ristbond_core.engine.sender import SenderSettings
from ristbond_core.events import FlowReset, LinkStateChanged
from ristbond_core.plugins import PluginHost
from ristbond_core.sim.pair import PairSimulation, ts_payload
from ristbond_core.sim.scenario import Action, Scenario

SAMPLE_INTERVAL_NS = 100 * NS_PER_MS
RTP_PAYLOAD_TYPE = 33
#: A sequence number counts as "already had" for this long (16-bit numbers wrap).
SEEN_HORIZON_NS = 10 * NS_PER_S


@dataclass(slots=True)
class LinkSample:
    """One link at one instant: the truth (model) next to what the sender believes."""

    up: bool
    truth_bps: float | None
    truth_delay_ms: float
    truth_loss: float
    estimate_bps: float | None
    sent_bytes: int
    sent_packets: int
    retransmitted: int
    state: str | None
    rtt_ms: float | None
    loss_estimate: float = 0.0


@dataclass(slots=True)
class Sample:
    """Both engines at simulated time ``t_s`` (seconds since the run started)."""

    t_s: float
    links: dict[str, LinkSample]
    buffer_ms: int
    buffer_packets: int
    lost: int
    recovered: int
    output_packets: int


@dataclass(slots=True)
class RunRecord:
    """Everything a run produced that metrics and plots read."""

    scenario: Scenario
    scheduler: str
    seed: int
    duration_s: float
    input_times_ns: list[int]
    output_indices: list[int]
    output_times_ns: list[int]
    samples: list[Sample]
    transitions: list[LinkStateChanged]
    flow_resets: list[FlowReset]
    sender_stats: dict[str, Any]
    receiver_stats: dict[str, Any]
    spurious_retransmits: int
    path_duplicates: int
    start_ns: int
    steps: int
    applied: list[Action] = field(default_factory=list)


def payload_index(payload: bytes) -> int:
    """The input index that :func:`ts_payload` wrote into a payload."""
    return int.from_bytes(payload[4:12], "big")


#: Pair copies remembered until they arrive (bounds the set when paths lose them).
_MAX_PAIR_COPIES = 4096


def _rtp_seq(data: bytes) -> tuple[int, bool] | None:
    """(sequence number, retransmission flag) of an RTP datagram of ours, else None."""
    if len(data) < 12 or data[0] >> 6 != 2 or data[1] & 0x7F != RTP_PAYLOAD_TYPE:
        return None
    return int.from_bytes(data[2:4], "big"), bool(data[11] & 1)


class _ArrivalWatch:
    """Counts retransmissions that reach the receiver for packets it already had.

    A copy the sender put right behind its original on the same link is a packet pair
    (a capacity measurement made on purpose, counted as overhead), not a spurious
    retransmission; pairs are recognised where they leave, so a path that reorders
    them cannot disguise them.
    """

    def __init__(self) -> None:
        self.seen: dict[int, int] = {}
        self.last_sent: dict[str, int] = {}  # link → seq of the last original it carried
        self.pair_copies: set[tuple[str, int]] = set()
        self.spurious = 0

    def departed(self, link_id: str, data: bytes, at_ns: int) -> None:
        """The sender put ``data`` on ``link_id``."""
        rtp = _rtp_seq(data)
        if rtp is None:
            return
        seq, retransmission = rtp
        if not retransmission:
            self.last_sent[link_id] = seq
        elif self.last_sent.pop(link_id, None) == seq:
            if len(self.pair_copies) >= _MAX_PAIR_COPIES:
                self.pair_copies.clear()  # copies lost on the way are never seen again
            self.pair_copies.add((link_id, seq))

    def __call__(self, to: str, link_id: str, data: bytes, at_ns: int) -> None:
        rtp = _rtp_seq(data) if to == "receiver" else None
        if rtp is None:
            return
        seq, retransmission = rtp
        if retransmission and (link_id, seq) in self.pair_copies:
            self.pair_copies.discard((link_id, seq))
            return
        before = self.seen.get(seq)
        if retransmission and before is not None and at_ns - before < SEEN_HORIZON_NS:
            self.spurious += 1
        if before is None or at_ns - before >= SEEN_HORIZON_NS:
            self.seen[seq] = at_ns


def run_scenario(
    scenario: Scenario,
    scheduler: str = "dwrr",
    *,
    seed: int = 1,
    duration_s: float | None = None,
    host: PluginHost | None = None,
    progress: Callable[[float], None] | None = None,
    scheduler_options: Mapping[str, Any] | None = None,
) -> RunRecord:
    """Run ``scenario`` (for ``duration_s``, default its own) and record the result.

    ``scheduler_options`` are the scheduler's ``[scheduler.options]`` (validated by it).
    """
    duration = scenario.duration_s if duration_s is None else duration_s
    host = host or PluginHost.discover()
    models = scenario.link_models()
    sim = PairSimulation(
        models,
        host.create_scheduler(scheduler, dict(scheduler_options or {}), random.Random(seed)),
        sender=SenderSettings(latency_ms=scenario.latency_ms,
                              payload_bytes=scenario.payload_bytes),
        receiver=ReceiverSettings(latency_ms=scenario.latency_ms),
        seed=seed,
    )
    start = sim.now_ns
    pending = scenario.timeline(seed, duration)
    applied: list[Action] = []
    samples: list[Sample] = []
    transitions: list[LinkStateChanged] = []
    resets: list[FlowReset] = []
    watch = _ArrivalWatch()
    sim.on_arrival = watch
    sim.on_departure = watch.departed
    next_sample = start
    total_ns = int(duration * NS_PER_S) or 1

    def on_time(sim: PairSimulation, now_ns: int) -> None:
        nonlocal next_sample
        t_s = (now_ns - start) / NS_PER_S
        while pending and pending[0].at_s <= t_s:
            action = pending.pop(0)
            _apply(sim, action)
            applied.append(action)
        if now_ns >= next_sample:
            _drain(sim, transitions, resets)
            samples.append(_sample(sim, now_ns, start))
            next_sample += SAMPLE_INTERVAL_NS
            if progress is not None:
                progress(min(1.0, (now_ns - start) / total_ns))

    payload_size = scenario.payload_bytes
    result = sim.run(
        duration,
        packets_per_s=scenario.packets_per_s,
        payload=lambda index: ts_payload(index, payload_size),
        on_time=on_time,
    )
    _sort_events(result.events, transitions, resets)
    return RunRecord(
        scenario=scenario,
        scheduler=scheduler,
        seed=seed,
        duration_s=duration,
        input_times_ns=result.input_times_ns,
        output_indices=[payload_index(p) for p in result.output],
        output_times_ns=result.output_times_ns,
        samples=samples,
        transitions=transitions,
        flow_resets=resets,
        sender_stats=sim.sender.stats(sim.sender_now(sim.now_ns)),
        receiver_stats=sim.receiver.stats(sim.receiver_now(sim.now_ns)),
        # A tail probe resends the last packet on purpose (it counts as overhead); only
        # retransmissions answering a NACK for a packet that was not lost are spurious.
        spurious_retransmits=max(0, watch.spurious - sim.sender.counters.tail_probes),
        path_duplicates=sum(path.duplicated for path in sim.forward.values()),
        start_ns=start,
        steps=result.steps,
        applied=applied,
    )


def _apply(sim: PairSimulation, action: Action) -> None:
    if action.kind == "set" and action.link is not None:
        model = sim.models[action.link]
        for name, value in action.params:
            setattr(model, name, value)
    elif action.kind == "address_change" and action.link is not None:
        sim.change_address(action.link)
    elif action.kind == "clock_jump":
        sim.jump_clock(str(action.param("engine", "receiver")),
                       int(float(action.param("offset_ms", 0)) * NS_PER_MS))
    elif action.kind == "stall":
        sim.stall(int(float(action.param("duration_ms", 0)) * NS_PER_MS))


def _drain(sim: PairSimulation, transitions: list[LinkStateChanged],
           resets: list[FlowReset]) -> None:
    """Collect events often: the engines' event queues are bounded."""
    _sort_events(sim.sender.drain_events() + sim.receiver.drain_events(), transitions, resets)


def _sort_events(events: list[object], transitions: list[LinkStateChanged],
                 resets: list[FlowReset]) -> None:
    for event in events:
        if isinstance(event, LinkStateChanged):
            transitions.append(event)
        elif isinstance(event, FlowReset):
            resets.append(event)


def _sample(sim: PairSimulation, now_ns: int, start_ns: int) -> Sample:
    sent = sim.sender.stats(sim.sender_now(now_ns))
    received = sim.receiver.stats(sim.receiver_now(now_ns))
    by_id = {link["id"]: link for link in sent["links"]}
    links = {}
    for name, model in sim.models.items():
        link = by_id.get(name, {})
        links[name] = LinkSample(
            up=model.up,
            truth_bps=model.rate_bps,
            truth_delay_ms=model.delay_ms,
            truth_loss=model.loss,
            estimate_bps=link.get("capacity_bps"),
            sent_bytes=link.get("sent_bytes", 0),
            sent_packets=link.get("sent_packets", 0),
            retransmitted=link.get("retransmitted", 0),
            state=link.get("state"),
            rtt_ms=link.get("rtt_ms"),
            loss_estimate=link.get("loss", 0.0),
        )
    flow = received["flow"]
    return Sample(
        t_s=(now_ns - start_ns) / NS_PER_S,
        links=links,
        buffer_ms=flow["buffer_ms"],
        buffer_packets=flow["buffer_packets"],
        lost=flow["lost"],
        recovered=flow["recovered"],
        output_packets=flow["output_packets"],
    )
