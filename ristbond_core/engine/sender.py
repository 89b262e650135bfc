"""SenderEngine: packetize, stamp, schedule over links, answer NACKs, run per-link RTCP.

Sans-IO: fed ``send_payload(payload, now_ns)`` and ``receive_datagram(link_id, data,
now_ns)``, asked for ``datagrams_to_send(now_ns)`` and ``next_deadline()`` /
``on_deadline(now_ns)``. The scheduler is called directly per packet.

Every link carries packets of one sequence space (bonding = merge by sequence number
at the receiver). A NACKed packet is resent with SSRC|1 on the link that is best now,
not necessarily the one that lost it, and not at all when it could no longer arrive
before the receiver plays it out. Each NACKed sequence number is attributed to the
link that first carried it: that is the link's channel loss.

Clock: every entry point reads the caller's ``now_ns`` through an :class:`EngineClock`.
A step back of the caller's clock is absorbed (the RTP timestamps, the store's ages and
every timer carry on as if no time had passed), so the receiver never sees the media
clock run backwards. A jump forward is taken as elapsed time: from the readings alone
it is the same as the process having been descheduled.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ristbond_core.contracts import Channel, LinkState, LinkView, PacketInfo, Scheduler
from ristbond_core.engine.clock import EngineClock
from ristbond_core.engine.common import (
    NS_PER_MS,
    RTCP_INTERVAL_NS,
    EngineOutbox,
    PendingEcho,
    ns_to_rtp_ticks,
    snapshot,
)
from ristbond_core.engine.estimators import LinkEstimator
from ristbond_core.engine.lifecycle import LinkLifecycle
from ristbond_core.engine.lifecycle_config import LifecycleConfig
from ristbond_core.engine.retransmit_store import RetransmitStore, StoredPacket
from ristbond_core.engine.timing import TimingPlan, derive_timing, unmeasured_rtt_ms
from ristbond_core.errors import RistbondError
from ristbond_core.events import LinkStateChanged, MalformedDatagram, Retransmitted
from ristbond_core.wire import (
    RTP_HEADER_SIZE,
    GenericNack,
    LinkReceiverReport,
    NtpClock,
    ProtocolError,
    ReceiverReport,
    RistEchoRequest,
    RistEchoResponse,
    RistRangeNack,
    RtcpPacket,
    SenderReport,
    SourceDescription,
    bare_nack_records,
    build_compound,
    echo_rtt_ns,
    parse_compound_prefix,
    plain_rtp_header,
    rtt_ns_from_report,
)
from ristbond_core.wire.seq import generic_nack_seqs

TS_PACKET = 188
TS_SYNC = 0x47
#: Feedback arrives every RTCP interval (100 ms); three missed in a row is suspicious.
SILENT_FEEDBACK_MS = 350.0
#: Shortest pause in the input before the last packet is probed again.
TAIL_PROBE_MIN_MS = 20.0
#: Most tail probes for one last packet, each on another link while links remain. More
#: than one only towards a peer whose link reports can show the packet arrived.
TAIL_PROBES_MAX = 3
#: Above this share of its capacity estimate a link is a poor choice for retransmissions.
HEADROOM_SHARE = 0.85
SEQ_MASK = 0xFFFF
#: Link states in which the sender measures a link with packet pairs (media flows).
_PAIR_STATES = frozenset({LinkState.WARM, LinkState.LIVE, LinkState.DEGRADE})


@dataclass(frozen=True, slots=True)
class SenderSettings:
    """Sender knobs; timers and store bounds derive from ``latency_ms`` and RTT."""

    latency_ms: int = 1000
    flow_id: int = 0x5249_5354
    #: Largest RTP payload: 1500-byte MTU − IP (20) − UDP (8) − RTP (12). Input datagrams
    #: up to this size are sent unchanged; larger ones are split at TS packet boundaries.
    payload_bytes: int = 1460
    max_retries: int = 7
    cname: str = "ristbond-sender"
    store_max_bytes: int = 256 * 1024 * 1024
    max_pending_events: int = 1024
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    #: How often (per link) a link's bottleneck is measured with a packet pair; 0 turns
    #: pairs off.
    capacity_probe_interval_ms: int = 250
    #: Most of the bytes sent that pairs may spend (a split costs a header, a copy
    #: its payload).
    capacity_probe_budget: float = 0.005


@dataclass(slots=True)
class SenderCounters:
    """Cumulative per-flow counters."""

    input_datagrams: int = 0
    input_bytes: int = 0
    packets: int = 0
    packets_sent: int = 0
    bytes_sent: int = 0
    fallback_broadcast: int = 0
    nacks_received: int = 0
    nack_requested: int = 0
    nack_unknown: int = 0
    nack_suppressed: int = 0
    retransmitted: int = 0
    retransmit_too_late: int = 0
    retransmit_budget_exhausted: int = 0
    tail_probes: int = 0
    capacity_probes: int = 0
    capacity_probe_bytes: int = 0
    malformed: int = 0
    rtcp_received: int = 0
    bare_nacks: int = 0
    clock_steps: int = 0


class _SenderLink:
    def __init__(self, link_id: str, weight: float, lifecycle: LinkLifecycle) -> None:
        self.link_id = link_id
        self.weight = weight
        self.lifecycle = lifecycle
        self.estimator = LinkEstimator()
        self.sent_packets = 0
        self.sent_bytes = 0
        self.retransmitted = 0
        self.attributed_losses = 0
        self.late_originals = 0
        self.next_rtcp_ns = 0
        self.last_report: LinkReceiverReport | None = None
        self.unconfirmed: deque[tuple[int, int]] = deque()  # (sent_ns, bytes) for foreign peers
        self.pending_echo: list[PendingEcho] = []
        self.reported_rtt_ms: float | None = None
        self.next_pair_ns = 0
        self.last_pair_ns = 0
        self.last_original_ns = -(1 << 62)

    def confirmed_bytes(self, now_ns: int) -> int:
        """Bytes sent at least one SRTT ago, not NACKed: delivery a foreign peer implies."""
        srtt = self.estimator.rtt.srtt_ms
        horizon = now_ns - int((srtt if srtt is not None else 100.0) * NS_PER_MS)
        total = 0
        while self.unconfirmed and self.unconfirmed[0][0] <= horizon:
            total += self.unconfirmed.popleft()[1]
        return int(total * (1.0 - self.estimator.loss_ratio(now_ns)))


class SenderEngine(EngineOutbox):
    """Sends one flow over many links with cross-link ARQ."""

    def __init__(
        self,
        settings: SenderSettings,
        scheduler: Scheduler,
        *,
        ntp_clock: NtpClock,
        now_ns: int,
        rng: random.Random,
    ) -> None:
        if settings.flow_id % 2:
            raise RistbondError("the flow id (SSRC) must be even; odd marks retransmissions")
        super().__init__(settings.max_pending_events)
        self.settings = settings
        self.scheduler = scheduler
        self.ntp_clock = ntp_clock
        self.started_ns = now_ns
        self._clock = EngineClock(now_ns)
        self.counters = SenderCounters()
        self.links: dict[str, _SenderLink] = {}
        self.store = RetransmitStore(settings.store_max_bytes)
        self._ssrc = settings.flow_id
        self._next_ext = rng.getrandbits(16) + (1 << 16)
        self._ts_base = rng.getrandbits(32)
        self._latency_ns = settings.latency_ms * NS_PER_MS
        self._views: tuple[LinkView, ...] | None = None
        self._snapshot_seq = 0
        self.timing: TimingPlan = derive_timing(settings.latency_ms, None)
        self._timing_rtt: float | None = None
        self._last_packet: tuple[int, int] | None = None  # (extended seq, sent at)
        self._tail_probes = 0  # tail probes sent for the current last packet
        self._tail_probe_ns = 0  # when the latest went
        self._tail_probe_links: set[str] = set()

    def _now(self, now_ns: int) -> int:
        """The engine time for the caller's ``now_ns`` (see the module docstring)."""
        now = self._clock.read(now_ns)
        self.counters.clock_steps = self._clock.backward_steps
        return now

    # -- links ------------------------------------------------------------------------

    def add_link(self, link_id: str, now_ns: int, *, weight: float = 1.0) -> None:
        """Attach a link; it starts probing and earns its share through delivery."""
        now_ns = self._now(now_ns)
        if link_id in self.links:
            raise RistbondError(f"link {link_id!r} is already attached")
        lifecycle = LinkLifecycle(link_id, self.settings.lifecycle)
        link = _SenderLink(link_id, weight, lifecycle)
        link.next_rtcp_ns = now_ns  # RTCP first: librist ignores RTP before an SDES
        lifecycle.on_attach(now_ns)
        self.links[link_id] = link
        self.scheduler.on_link_added(link_id, now_ns)
        self._views = None
        self._collect_lifecycle_events()

    def remove_link(self, link_id: str, now_ns: int) -> None:
        """Detach a link; its in-flight packets stay retransmittable on other links."""
        now_ns = self._now(now_ns)
        link = self.links.pop(link_id, None)
        if link is None:
            raise RistbondError(f"no link {link_id!r} to remove")
        link.lifecycle.on_detach(now_ns)
        self._collect_lifecycle_events(link)
        self.scheduler.on_link_removed(link_id, now_ns)
        self._views = None

    def set_weight(self, link_id: str, weight: float) -> None:
        """Change a link's configured weight (read by weighted schedulers)."""
        self.links[link_id].weight = weight
        self._views = None

    def link_views(self, now_ns: int) -> tuple[LinkView, ...]:
        """What the scheduler sees; rebuilt only after something changed (the same
        tuple until then, so a scheduler can tell "nothing changed" by identity)."""
        if self._views is None:
            self._views = tuple(
                link.lifecycle.view(link.estimator.snapshot(now_ns), weight=link.weight)
                for link in self.links.values()
            )
        return self._views

    # -- input ------------------------------------------------------------------------

    def send_payload(self, payload: bytes, now_ns: int) -> None:
        """Packetize one input datagram (split at TS packet boundaries if too large)."""
        now_ns = self._now(now_ns)
        self.counters.input_datagrams += 1
        self.counters.input_bytes += len(payload)
        limit = self.settings.payload_bytes
        if len(payload) <= limit:
            self._send_packet(payload, now_ns)
            return
        step = (limit // TS_PACKET) * TS_PACKET or limit
        for start in range(0, len(payload), step):
            self._send_packet(payload[start : start + step], now_ns)

    def _send_packet(self, payload: bytes, now_ns: int) -> None:
        ext = self._next_ext
        self._next_ext += 1
        timestamp = (self._ts_base + ns_to_rtp_ticks(now_ns - self.started_ns)) & 0xFFFF_FFFF
        views = self.link_views(now_ns)
        chosen: Sequence[str] = self.scheduler.select(
            PacketInfo(seq=ext, size_bytes=len(payload)), views, now_ns
        )
        if not chosen and self.links:
            # No link is trusted yet (all probing or resetting): send everywhere rather
            # than drop live input.
            chosen = list(self.links)
            self.counters.fallback_broadcast += 1
        split = self._pair_split_at(chosen, payload, now_ns)
        if split:
            # Two halves back to back with one timestamp: a packet pair for one header.
            self._send_original(ext, timestamp, payload[:split], chosen, now_ns,
                                pair=False, joins_next=True)
            self._note_pair(self.links[chosen[0]], RTP_HEADER_SIZE, now_ns)
            ext = self._next_ext
            self._next_ext += 1
            payload = payload[split:]
        self._send_original(ext, timestamp, payload, chosen, now_ns, pair=not split)

    def _send_original(
        self,
        ext: int,
        timestamp: int,
        payload: bytes,
        chosen: Sequence[str],
        now_ns: int,
        *,
        pair: bool,
        joins_next: bool = False,
    ) -> None:
        """First transmission of ``ext`` on each chosen link (``pair``: a copy may follow;
        ``joins_next``: the first half of a split datagram, marked for the receiver)."""
        datagram = self._rtp(ext, timestamp, self._ssrc, payload, marker=joins_next)
        first_link = ""
        for link_id in chosen:
            link = self.links.get(link_id)
            if link is None:
                continue
            first_link = first_link or link_id
            self._emit_rtp(link, datagram, len(payload), now_ns)
            link.last_original_ns = now_ns
            if pair and self._pair_due(link, len(payload), now_ns):
                self._send_pair_copy(link, ext, timestamp, payload, now_ns)
        self.counters.packets += 1
        self.store.add(
            ext, StoredPacket(payload, timestamp, now_ns, first_link, joins_next=joins_next)
        )
        self._last_packet = (ext, now_ns)
        if self._tail_probes:
            self._tail_probes = 0
            self._tail_probe_links.clear()

    def _pair_split_at(self, chosen: Sequence[str], payload: bytes, now_ns: int) -> int:
        """Where to split ``payload`` into a packet pair (0: send it whole).

        A pair made of the two halves of one input datagram costs a header instead
        of a copy, so it is the first choice whenever the datagram goes over one link
        and is whole TS packets. The first half carries the RTP marker bit, by which a
        ristbond receiver joins the halves into one output datagram again. The second
        half is the larger: its size over the arrival gap is the measurement.
        """
        count = len(payload) // TS_PACKET
        if len(chosen) != 1 or count < 2 or len(payload) != count * TS_PACKET:
            return 0
        split = (count // 2) * TS_PACKET
        if payload[0] != TS_SYNC or payload[split] != TS_SYNC:
            return 0
        link = self.links.get(chosen[0])
        if link is None or not self._pair_due(link, RTP_HEADER_SIZE, now_ns):
            return 0
        return split

    def _pair_due(self, link: _SenderLink, size: int, now_ns: int) -> bool:
        """Is a packet pair costing ``size`` bytes due on ``link`` now?

        Only towards a peer that measures pairs (it sends ristbond link reports), only
        on a link carrying media (warm, live or degrade), at most every
        ``capacity_probe_interval_ms`` and within ``capacity_probe_budget``.
        """
        settings = self.settings
        if settings.capacity_probe_interval_ms <= 0 or now_ns < link.next_pair_ns:
            return False
        if not self._pair_candidate(link):
            return False
        spent = self.counters.capacity_probe_bytes + size
        if spent > settings.capacity_probe_budget * self.counters.bytes_sent:
            return False
        # The budget is shared: the link measured longest ago goes first, so a link
        # carrying little traffic is not outbid by the busy one every time.
        active_ns = now_ns - 2 * settings.capacity_probe_interval_ms * NS_PER_MS
        return all(
            other.last_pair_ns >= link.last_pair_ns
            for other in self.links.values()
            if other is not link and other.last_original_ns >= active_ns
            and self._pair_candidate(other)
        )

    @staticmethod
    def _pair_candidate(link: _SenderLink) -> bool:
        """Could ``link`` be measured with pairs now (the peer measures, media flows)?"""
        return (
            link.last_report is not None
            and link.lifecycle.state in _PAIR_STATES
        )

    def _send_pair_copy(
        self, link: _SenderLink, ext: int, timestamp: int, payload: bytes, now_ns: int
    ) -> None:
        """Send a retransmission-flagged copy of ``ext`` right behind its original.

        The receiver times the two arrivals (see ``docs/engines.md``, packet pairs); to
        any RIST receiver the copy is only a duplicate. It is not confirmable: the
        receiver never counts a duplicate as delivered.
        """
        copy = self._rtp(ext, timestamp, self._ssrc | 1, payload)
        self._emit_rtp(link, copy, len(payload), now_ns, confirmable=False)
        self._note_pair(link, len(payload), now_ns)

    def _note_pair(self, link: _SenderLink, cost_bytes: int, now_ns: int) -> None:
        """A pair went out on ``link`` at a cost of ``cost_bytes`` beyond the media."""
        link.next_pair_ns = now_ns + self.settings.capacity_probe_interval_ms * NS_PER_MS
        link.last_pair_ns = now_ns
        self.counters.capacity_probes += 1
        self.counters.capacity_probe_bytes += cost_bytes

    def _rtp(
        self, ext: int, timestamp: int, ssrc: int, payload: bytes, *, marker: bool = False
    ) -> bytes:
        return plain_rtp_header(ext & SEQ_MASK, timestamp, ssrc, marker=marker) + payload

    def _resent(self, ext: int, packet: StoredPacket) -> bytes:
        """A stored packet sent again (SSRC|1, its sequence number, timestamp and mark)."""
        return self._rtp(ext, packet.timestamp, self._ssrc | 1, packet.payload,
                         marker=packet.joins_next)

    def _emit_rtp(self, link: _SenderLink, datagram: bytes, payload_len: int, now: int,
                  *, confirmable: bool = True) -> None:
        """Send one RTP datagram on ``link`` and account for it.

        ``confirmable=False`` is for a packet the receiver most likely has already (the
        tail probe): a duplicate is never counted as delivered, so it must not start
        the lifecycle's blackhole clock, or the link that carried it would be demoted
        a second after the stream ends.
        """
        self._send(link.link_id, Channel.RTP, datagram)
        link.sent_packets += 1
        link.sent_bytes += payload_len
        link.estimator.on_sent(payload_len, now)
        if confirmable:
            link.unconfirmed.append((now, payload_len))
            if len(link.unconfirmed) > 65_536:
                link.unconfirmed.popleft()
            state = link.lifecycle.state
            link.lifecycle.on_sent(payload_len, now)
            if link.lifecycle.state is not state:
                self._collect_lifecycle_events(link)
                self._views = None
        self.counters.packets_sent += 1
        self.counters.bytes_sent += payload_len

    def receive_datagram(self, link_id: str, data: bytes, now_ns: int) -> None:
        """Feed one RTCP datagram that arrived on ``link_id``'s sockets."""
        now_ns = self._now(now_ns)
        link = self.links.get(link_id)
        if link is None:
            return
        try:
            packets, tail_error = parse_compound_prefix(data)
        except ProtocolError as exc:
            self.counters.malformed += 1
            self._emit(MalformedDatagram(link_id, exc.reason, now_ns))
            return
        if tail_error is not None:
            bare = bare_nack_records(data)
            if bare:
                # GStreamer ristsrc's NACK entries without their header (see
                # ``bare_nack_records``): answered like any generic NACK.
                self.counters.bare_nacks += 1
                self.counters.nacks_received += 1
                self._on_nack(generic_nack_seqs(bare), now_ns)
            else:
                # Junk after valid packets (a peer quirk): count it, keep what came before.
                self.counters.malformed += 1
                self._emit(MalformedDatagram(link_id, f"trailing: {tail_error.reason}",
                                             now_ns))
        self.counters.rtcp_received += 1
        delivered: int | None = None
        for packet in packets:
            delivered = self._on_rtcp_packet(link, packet, now_ns, delivered)
        link.estimator.on_feedback(now_ns)
        if delivered is None:
            delivered = link.confirmed_bytes(now_ns)
        metrics = link.estimator.snapshot(now_ns)
        self._tell_lifecycle_about_others(link)
        link.lifecycle.on_feedback(metrics, now_ns, delivered_bytes=delivered)
        self._collect_lifecycle_events(link)
        self._views = None
        for view in self.link_views(now_ns):
            if view.link_id == link_id:
                self.scheduler.on_metrics(view, now_ns)

    def _on_rtcp_packet(
        self, link: _SenderLink, packet: RtcpPacket, now_ns: int, delivered: int | None
    ) -> int | None:
        if isinstance(packet, RistRangeNack | GenericNack):
            self.counters.nacks_received += 1
            self._on_nack(packet.lost_sequence_numbers(), now_ns)
        elif isinstance(packet, RistEchoRequest):
            if len(link.pending_echo) < 4:
                link.pending_echo.append(PendingEcho(self._ssrc, packet.ntp_timestamp, now_ns))
        elif isinstance(packet, RistEchoResponse):
            now_ntp = self.ntp_clock.ntp_from_monotonic(now_ns)
            rtt_ns = echo_rtt_ns(now_ntp, packet.ntp_timestamp, packet.processing_delay_us)
            link.estimator.on_rtt_sample(rtt_ns / NS_PER_MS, now_ns)
        elif isinstance(packet, LinkReceiverReport):
            delivered = (delivered or 0) + self._on_link_report(link, packet, now_ns)
        elif isinstance(packet, ReceiverReport):
            for block in packet.reports:
                if block.ssrc & ~1 == self._ssrc:
                    link.estimator.on_reported_jitter(block.jitter / 90.0, now_ns)
                    if link.estimator.rtt.samples == 0:
                        # RFC 3550's now - LSR - DLSR: the peer's hold time (DLSR) is
                        # taken off, so a peer that answers SRs only at its next report
                        # (GStreamer's ristsrc: up to about half a second) still yields
                        # the path's RTT. None: no SR seen yet; 0: the result was
                        # negative (a clock step, or the peer's bad arithmetic).
                        reported_ns = rtt_ns_from_report(
                            self.ntp_clock.ntp_from_monotonic(now_ns),
                            block.last_sr, block.delay_since_last_sr)
                        if reported_ns:
                            link.reported_rtt_ms = reported_ns / NS_PER_MS
        return delivered

    def _on_link_report(self, link: _SenderLink, report: LinkReceiverReport, now: int) -> int:
        previous = link.last_report
        if previous is not None and report.report_seq <= previous.report_seq:
            return 0  # stale or reordered report: cumulative counters make it redundant
        link.last_report = report
        if previous is None:
            return 0
        late = (report.late_originals - previous.late_originals) & 0xFFFF_FFFF
        if late and report.version >= 3:
            link.late_originals += late
            link.estimator.loss.on_late(late, now)
        delivered = max(0, report.received_bytes - previous.received_bytes)
        if report.report_seq == previous.report_seq + 1:
            # Only consecutive reports give a rate: after a lost report the byte delta
            # spans two intervals but interval_us covers one.
            dispersion = report.dispersion_kbps * 1000.0 if report.dispersion_pairs else None
            link.estimator.on_receive_report(delivered, report.interval_us * 1000, now,
                                             dispersion_bps=dispersion)
        link.unconfirmed.clear()
        return delivered

    def _on_nack(self, seqs: list[int], now_ns: int) -> None:
        highest = self._next_ext - 1
        for seq in seqs:
            self.counters.nack_requested += 1
            ext = highest + (((seq - highest + 0x8000) & SEQ_MASK) - 0x8000)
            packet = self.store.get(ext)
            if packet is None:
                self.counters.nack_unknown += 1
                continue
            if self._too_early(packet, now_ns):
                # The receiver cannot know the fate of the last retransmission yet: this
                # is a copy of an earlier NACK (sent over another link) or an impatient
                # retry. Neither resend nor blame anyone.
                self.counters.nack_suppressed += 1
                continue
            self._attribute_loss(ext, packet, now_ns)
            if packet.retries >= self.settings.max_retries:
                self.counters.retransmit_budget_exhausted += 1
                continue
            best = self._retransmit_link(ext, packet, now_ns)
            if best is None:
                self.counters.retransmit_too_late += 1
                continue
            datagram = self._resent(ext, packet)
            self._emit_rtp(best, datagram, len(packet.payload), now_ns)
            best.retransmitted += 1
            packet.retries += 1
            packet.last_retransmit_ns = now_ns
            packet.last_link_id = best.link_id
            self.counters.retransmitted += 1
            self._emit(Retransmitted(ext, best.link_id, packet.link_id, now_ns))

    def _tail_probe_at(self) -> int | None:
        """When the next tail probe is due: input paused for two RTTs after the last
        packet; again after two RTTs and two report intervals while no link report
        shows the receiver has the packet; never once its deadline has passed."""
        last = self._last_packet
        if last is None or self._tail_probes >= TAIL_PROBES_MAX:
            return None
        wait_ns = int(max(TAIL_PROBE_MIN_MS, 2.0 * self.timing.rtt_ms) * NS_PER_MS)
        if self._tail_probes == 0:
            return last[1] + wait_ns
        if not self._peer_reports_links() or self._peer_has(last[0]):
            return None
        due = self._tail_probe_ns + wait_ns + 2 * RTCP_INTERVAL_NS
        return due if due < last[1] + self.settings.latency_ms * NS_PER_MS else None

    def _peer_reports_links(self) -> bool:
        return any(link.last_report is not None for link in self.links.values())

    def _peer_has(self, ext: int) -> bool:
        """Does a link report show the receiver got ``ext`` (or something later)?"""
        seq = ext & SEQ_MASK
        for link in self.links.values():
            report = link.last_report
            if report is not None and ((report.highest_ext_seq - seq) & SEQ_MASK) < 0x8000:
                return True
        return False

    def _probe_tail(self, now_ns: int) -> None:
        """Resend the last packet after input paused (a tail loss probe).

        A lost last packet is invisible to the receiver: no later packet reveals the
        gap, so no NACK will ever ask for it. A copy on another link (a harmless
        duplicate when the original arrived) closes that hole at the end of a stream
        or before a pause in the input. When the receiver's link reports still do not
        show the packet, the copy was lost too, and another goes on another link.
        """
        due = self._tail_probe_at()
        if due is None or now_ns < due or self._last_packet is None:
            return
        self._tail_probes += 1
        self._tail_probe_ns = now_ns
        ext = self._last_packet[0]
        packet = self.store.get(ext)
        if packet is None:
            return
        link = self._best_link(now_ns, avoid={packet.link_id, *self._tail_probe_links})
        if link is None:
            return
        self._tail_probe_links.add(link.link_id)
        datagram = self._resent(ext, packet)
        self._emit_rtp(link, datagram, len(packet.payload), now_ns, confirmable=False)
        self.counters.tail_probes += 1

    def _attribute_loss(self, ext: int, packet: StoredPacket, now_ns: int) -> None:
        """Charge the loss to the link that carried the attempt the receiver missed.

        The first NACK of a packet blames the link of the original; a NACK after a
        retransmission blames the link of that retransmission, once the link's RTO is
        known. Each attempt is charged once, however often (and over however many
        links) it is NACKed.
        """
        attempt = packet.retries
        if packet.nacked_attempts > attempt:
            return
        packet.nacked_attempts = attempt + 1
        carrier = packet.last_link_id if attempt else packet.link_id
        link = self.links.get(carrier)
        sent_ns = packet.last_retransmit_ns if attempt else packet.sent_ns
        if link is not None and sent_ns is not None:
            rto_ms = link.estimator.rtt.rto_ms()
            if rto_ms is None and attempt:
                # No echo, no RTO: a NACK after a retransmission may be a request the
                # receiver queued before the retransmission came. GStreamer's ristsrc
                # sends such stale repeats up to its report interval later; charged, they
                # made a clean link look 7 % lossy and sent it to cooldown.
                return
            if (rto_ms is not None and now_ns - sent_ns < rto_ms * NS_PER_MS
                    and not (attempt == 0 and _reports_late_originals(link))):
                # Sooner than the link's RTO: the packet may still be queued on the way,
                # so this NACK says nothing certain about the link. A peer that reports
                # first transmissions arriving after their NACK (RBLR v3) settles it
                # later, so there the NACK of an original is charged at once and taken
                # back if such a report comes: holding the charge until then delays
                # the loss signal, which measured worse on fast-changing cellular links.
                return
            link.attributed_losses += 1
            link.estimator.on_lost((ext << 6) | min(attempt, 63), now_ns)

    def _too_early(self, packet: StoredPacket, now_ns: int) -> bool:
        """Is it too soon after the last retransmission for a NACK to be about it?"""
        if packet.last_retransmit_ns is None:
            return False
        carrier = self.links.get(packet.last_link_id)
        if carrier is None:
            return False
        rtt = carrier.estimator.rtt
        if rtt.srtt_ms is not None and rtt.rttvar_ms is not None:
            # The retransmission's round trip plus some variation; not the full RTO, whose
            # 4 x RTTVAR (large while the estimate is young) would outlast the receiver's
            # retries and waste them.
            wait_ms = rtt.srtt_ms + 2.0 * rtt.rttvar_ms
        else:
            wait_ms = 1.5 * self._rtt_ms(carrier)
        wait_ms = min(wait_ms, self.settings.latency_ms / 4.0)
        return now_ns - packet.last_retransmit_ns < max(5.0, wait_ms) * NS_PER_MS

    def _rtt_ms(self, link: _SenderLink) -> float:
        """The link's RTT: measured by echo, else from report blocks, else assumed.

        A round trip from report blocks is only as good as the peer's bookkeeping and
        no echo can check it, so it counts at most as much as the RTT assumed before
        any is measured. In one GStreamer ristsrc session every NACK for two seconds
        was judged too late to answer (9 chunks lost), which takes a round trip of over
        a second; for that peer the report blocks were the only source of one.
        """
        srtt = link.estimator.rtt.srtt_ms
        if srtt is not None:
            return srtt
        if link.reported_rtt_ms is not None:
            return min(link.reported_rtt_ms, unmeasured_rtt_ms(self.settings.latency_ms))
        return self.timing.rtt_ms

    def _retransmit_link(
        self, ext: int, packet: StoredPacket, now_ns: int
    ) -> _SenderLink | None:
        """Where a retransmission goes: the scheduler's choice among usable links other
        than those that already lost this packet, so its byte accounting covers
        retransmissions too; the best link instead when that choice would arrive after
        the deadline; None when no link can make it in time.
        """
        avoid = {packet.link_id, packet.last_link_id}
        views = self.link_views(now_ns)
        usable = [v for v in views if v.usable]
        candidates = [v for v in usable if v.link_id not in avoid] or usable or views
        chosen = self.scheduler.select(
            PacketInfo(seq=ext, size_bytes=len(packet.payload), retransmission=True),
            candidates, now_ns,
        )
        deadline_ns = packet.sent_ns + self._latency_ns
        for link in (self.links.get(chosen[0]) if chosen else None,
                     self._best_link(now_ns, avoid)):
            if link is None:
                continue
            if now_ns + int(self._rtt_ms(link) * NS_PER_MS) // 2 <= deadline_ns:
                return link
        return None

    def _best_link(self, now_ns: int, avoid: set[str] | None = None) -> _SenderLink | None:
        """The link a retransmission should take now: usable, fast, clean and heard from.

        Links in ``avoid`` (those that already lost this packet) are used only when no
        other usable link exists; a link silent for longer than ``SILENT_FEEDBACK_MS``
        is heavily penalised, since it may be blackholed before the lifecycle says so.
        """
        usable = [link for link in self.links.values() if link.lifecycle.usable]
        preferred = [link for link in usable if link.link_id not in (avoid or set())]
        candidates = preferred or usable or list(self.links.values())
        if not candidates:
            return None

        def score(link: _SenderLink) -> float:
            value = self._rtt_ms(link) * (1.0 + 4.0 * link.estimator.loss_ratio(now_ns))
            age = link.estimator.freshness.age_ms(now_ns)
            if age is None or age > SILENT_FEEDBACK_MS:
                value *= 10.0
            capacity = link.estimator.capacity.capacity_bps(now_ns)
            rate = link.estimator.capacity.send_rate_bps(now_ns)
            if capacity and rate is not None and rate > HEADROOM_SHARE * capacity:
                # Nearly full: a retransmission here would queue behind new packets and
                # push the link into its own losses.
                value *= 1.0 + 10.0 * (rate / capacity - HEADROOM_SHARE)
            return value

        return min(candidates, key=score)

    # -- timers -----------------------------------------------------------------------

    def next_deadline(self) -> int | None:
        """The earliest instant ``on_deadline`` has work to do."""
        deadlines = [link.next_rtcp_ns for link in self.links.values()]
        tail = self._tail_probe_at()
        if tail is not None:
            deadlines.append(tail)
        deadlines.extend(
            d for link in self.links.values() if (d := link.lifecycle.next_deadline()) is not None
        )
        return self._clock.to_caller(min(deadlines)) if deadlines else None

    def on_deadline(self, now_ns: int) -> None:
        """Periodic RTCP, lifecycle timers, timing refresh and store expiry."""
        now_ns = self._now(now_ns)
        rtts = [s for link in self.links.values()
                if (s := link.estimator.rtt.srtt_ms) is not None]
        rtt = min(rtts) if rtts else None
        if rtt != self._timing_rtt:  # the timing depends on nothing else
            self._timing_rtt = rtt
            self.timing = derive_timing(self.settings.latency_ms, rtt)
        self.store.expire(now_ns, int(self.timing.retransmit_store_ms * NS_PER_MS))
        self._probe_tail(now_ns)
        for link in self.links.values():
            before = link.lifecycle.state
            self._tell_lifecycle_about_others(link)
            link.lifecycle.on_deadline(now_ns)
            if link.lifecycle.state is not before:
                self._collect_lifecycle_events(link)
                self._views = None
                for view in self.link_views(now_ns):
                    if view.link_id == link.link_id:
                        self.scheduler.on_metrics(view, now_ns)
            if link.next_rtcp_ns <= now_ns or link.pending_echo:
                self._send_link_rtcp(link, now_ns, periodic=link.next_rtcp_ns <= now_ns)

    def _tell_lifecycle_about_others(self, link: _SenderLink) -> None:
        """Let ``link``'s lifecycle know whether another link is live (see
        ``LinkLifecycle.set_another_live``: the last links in service are not rested
        for bad quality)."""
        link.lifecycle.set_another_live(any(
            other.lifecycle.state is LinkState.LIVE
            for other in self.links.values() if other is not link
        ))

    def _send_link_rtcp(self, link: _SenderLink, now_ns: int, *, periodic: bool) -> None:
        ntp = self.ntp_clock.ntp_from_monotonic(now_ns)
        packets: list[RtcpPacket]
        if periodic:
            timestamp = (self._ts_base + ns_to_rtp_ticks(now_ns - self.started_ns)) & 0xFFFF_FFFF
            packets = [SenderReport(
                self._ssrc, ntp, timestamp,
                link.sent_packets & 0xFFFF_FFFF, link.sent_bytes & 0xFFFF_FFFF,
            )]
        else:
            packets = [ReceiverReport(self._ssrc)]
        packets.append(SourceDescription.with_cname(self._ssrc, self.settings.cname))
        packets.extend(echo.response(now_ns) for echo in link.pending_echo)
        link.pending_echo.clear()
        if periodic:
            packets.append(RistEchoRequest(self._ssrc, ntp, 0))
            link.next_rtcp_ns = now_ns + RTCP_INTERVAL_NS
        self._send(link.link_id, Channel.RTCP, build_compound(packets))

    # -- output -----------------------------------------------------------------------

    def _collect_lifecycle_events(self, link: _SenderLink | None = None) -> None:
        for each in [link] if link is not None else list(self.links.values()):
            for event in each.lifecycle.drain_events():
                self._emit(event)

    def state_changes(self) -> list[LinkStateChanged]:
        """Lifecycle transitions among the pending events (they stay pending)."""
        return [e for e in self._events if isinstance(e, LinkStateChanged)]

    # -- stats ------------------------------------------------------------------------

    def stats(self, now_ns: int) -> dict[str, Any]:
        """One snapshot in the versioned stats schema (cumulative counters)."""
        caller_ns, now_ns = now_ns, self._clock.peek(now_ns)
        self._snapshot_seq += 1
        shares = self.scheduler.shares(self.link_views(now_ns), now_ns)
        links = []
        for link in self.links.values():
            metrics = link.estimator.snapshot(now_ns)
            links.append({
                "id": link.link_id,
                "state": link.lifecycle.state.value,
                "admission": link.lifecycle.admission,
                "weight": link.weight,
                "share": shares.get(link.link_id, 0.0),
                "sent_packets": link.sent_packets,
                "sent_bytes": link.sent_bytes,
                "retransmitted": link.retransmitted,
                "attributed_losses": link.attributed_losses,
                "late_originals": link.late_originals,
                "rtt_ms": metrics.rtt_ms,
                "min_rtt_ms": metrics.min_rtt_ms,
                "loss": metrics.loss,
                "loss_kind": "attributed",
                "jitter_ms": metrics.jitter_ms,
                "capacity_bps": metrics.capacity_bps,
                "capacity_measured": metrics.capacity_measured,
                "bottleneck_bps": link.estimator.capacity.dispersion_bps(now_ns),
                "delivery_rate_bps": metrics.delivery_rate_bps,
                "feedback_age_ms": metrics.feedback_age_ms,
            })
        flow = {
            "ssrc": self._ssrc,
            **{name: getattr(self.counters, name) for name in SenderCounters.__slots__},
            "events_dropped": self.events_dropped,
            "store_packets": len(self.store),
            "store_bytes": self.store.bytes,
        }
        return snapshot(
            role="sender", seq=self._snapshot_seq, now_ns=caller_ns,
            unix_minus_monotonic_ns=self.ntp_clock.unix_minus_monotonic_ns,
            started_ns=self._clock.to_caller(self.started_ns), derived=self.timing.as_dict(),
            flow=flow, links=links,
        )


def _reports_late_originals(link: _SenderLink) -> bool:
    """Does the peer report, on this link, first transmissions that came after their
    NACK (RBLR v3)? Then a charge for a NACKed original can be taken back."""
    report = link.last_report
    return report is not None and report.version >= 3
