"""ReceiverEngine: merge one flow from many links, reorder, NACK, play out on time.

Sans-IO: fed ``receive_datagram(link_id, data, now_ns)``, asked for
``datagrams_to_send(now_ns)``, ``next_deadline()``/``on_deadline(now_ns)``, and for the
payloads that are due with ``pop_output()``. It never reads a clock or touches a socket.

Playout: each packet is released at its sender timestamp mapped onto the local clock
plus ``latency_ms``. The mapping is the smallest recent transit (arrival − timestamp),
i.e. the fastest path, so output is paced like the sender's input whichever link
carried a packet. A packet still missing when its successor is due is skipped and
counted: output never stalls.

Steps of either clock. The minimum follows a transit that drops at once (a faster
path, the sender's clock stepping forward), but it would hold on to a transit that
rose for its whole window, and with it every packet would be late on arrival. Two
things keep the mapping right:

* The receiver's own clock: every entry point reads ``now_ns`` through an
  :class:`EngineClock`, so engine time is continuous. A step back is absorbed whole. A
  jump forward past the engine's own next deadline is absorbed too, provisionally: it
  may instead have been a stall of the process, after which the packets queued
  meanwhile arrive at once. A fresh packet whose transit is clearly below the minimum
  is the proof of a stall (it arrived as early as ever, so the time did pass), and the
  jump is then given back; otherwise it counts as a clock step (``clock_steps``).
* The sender's clock or the path (a foreign sender's clock stepping back, a route to
  a longer path on every link): when every first transmission, on every link, has
  arrived more than half the latency later than the mapping expects for a quarter of
  the latency, the mapping is re-based on those packets (``timing_rebases``) and the
  packets and gaps already waiting under the old mapping move with it. A stall of the
  network followed by its backlog can trigger it too, which is harmless: the base is a
  minimum, and the next packet with a normal transit brings it back down.

Memory: the buffer only accepts packets inside a window of ``max_buffer_packets``
after the playout point and within ``max_buffer_bytes``; anything else (floods,
far-future sequence numbers, foreign SSRCs, garbage) is counted and dropped.
"""

from __future__ import annotations

import enum
import heapq
import statistics
from dataclasses import dataclass
from typing import Any, Literal

from ristbond_core.contracts import Channel
from ristbond_core.engine.clock import EngineClock
from ristbond_core.engine.common import (
    NS_PER_MS,
    RTCP_INTERVAL_NS,
    EngineOutbox,
    PendingEcho,
    rtp_ticks_to_ns,
    snapshot,
)
from ristbond_core.engine.estimators import LinkEstimator
from ristbond_core.engine.nack_tracker import ArqState, NackTracker
from ristbond_core.engine.timing import TimingPlan, derive_timing
from ristbond_core.engine.windowed import WindowedExtremum, WindowedSum
from ristbond_core.events import FlowReset, MalformedDatagram, NackSent, PacketSkipped
from ristbond_core.wire import (
    DatagramKind,
    GenericNack,
    Goodbye,
    LinkReceiverReport,
    NtpClock,
    ProtocolError,
    ReceiverReport,
    ReportBlock,
    RistEchoRequest,
    RistEchoResponse,
    RtcpPacket,
    SenderReport,
    SourceDescription,
    build_compound,
    classify_datagram,
    echo_rtt_ns,
    generic_nack_records,
    ns_to_ntp_short,
    ntp_middle32,
    parse_compound_prefix,
    range_nack_records,
    unpack_rtp_header,
)
from ristbond_core.wire import RistRangeNack as RangeNack

SEQ_CYCLE = 1 << 16
TS_CYCLE = 1 << 32
TRANSIT_WINDOW_MS = 10_000
RECENT_TRANSIT_WINDOW_MS = 2_000
RATE_WINDOW_MS = 1000
#: NACK records per RTCP packet, so a NACK fits one MTU.
MAX_NACK_RECORDS = 256
#: Our own RTCP SSRC towards non-RIST senders: the flow's, with these bits flipped.
RECEIVER_SSRC_MASK = 0x5A5A_5A5A
#: A link not heard from for this long is the last choice for NACKs.
SILENT_LINK_NS = 500 * NS_PER_MS
#: A link silent this long is forgotten (its source address is probably gone) ...
LINK_EXPIRY_NS = 30_000 * NS_PER_MS
#: ... or after this long when a new path needs its place under ``max_links``.
FULL_LINK_IDLE_NS = 5_000 * NS_PER_MS
#: Links of a new flow reveal themselves (first RTCP or RTP) within this time; until
#: then the delay spread is unknown and the reorder window stays conservative.
LINK_DISCOVERY_NS = 1_000 * NS_PER_MS
#: Transit may exceed the fastest path's by up to 2 × latency plus this before a
#: packet's timestamp is judged implausible (garbage or a foreign stream).
TRANSIT_TOLERANCE_NS = 1_000 * NS_PER_MS
#: Fewest gap entries one jump may create, whatever the packet rate.
MIN_TRACKED_GAP = 256
#: A flow is trusted after this many packets with consistent sequence numbers and
#: timestamps (or one, when the sender's SR on the same link names its SSRC), so a
#: stray or forged datagram can never capture the receiver.
ANCHOR_PACKETS = 4
ANCHOR_PACKETS_ANNOUNCED = 2
ANCHOR_CHAINS = 32
ANCHOR_MAX_SEQ_STEP = 64
ANCHOR_MAX_TS_STEP = 10 * 90_000
MAX_CANDIDATES = 64
#: Packet-pair samples kept per link between two reports (the rest only count).
MAX_PAIRS_PER_REPORT = 64
#: A call this much later than the engine's own next deadline (which is never more than
#: an RTCP interval away on a live flow) is a jump of the clock or a stall.
CLOCK_JUMP_NS = 250 * NS_PER_MS
#: A forward jump absorbed as a clock step is confirmed when no arrival within this time
#: showed it to be a stall.
CLOCK_STEP_CONFIRM_NS = 500 * NS_PER_MS
#: Fewest first transmissions that must all show a raised transit before a re-base.
REBASE_MIN_PACKETS = 8
#: NACKed seqs remembered to recognise late first transmissions (RBLR ``late_originals``):
#: several seconds of NACKs at 5 % loss even at 100 Mbit/s.
NACKED_MEMORY = 16_384


@dataclass(frozen=True, slots=True)
class ReceiverSettings:
    """Receiver knobs; everything time-related derives from ``latency_ms``."""

    latency_ms: int = 1000
    max_buffer_packets: int = 65_536
    max_buffer_bytes: int = 64 * 1024 * 1024
    nack_form: Literal["auto", "range", "generic"] = "auto"
    nack_links: int = 2
    cname: str = "ristbond-receiver"
    flow_timeout_ms: int = 2000
    resync_after_ms: int = 1000
    max_links: int = 64
    max_pending_events: int = 1024
    max_payload_bytes: int = 9000


@dataclass(slots=True)
class FlowCounters:
    """Cumulative per-flow counters (never decay)."""

    received: int = 0
    received_bytes: int = 0
    retransmitted_received: int = 0
    duplicate: int = 0
    probe_pairs: int = 0
    late: int = 0
    lost: int = 0
    output_packets: int = 0
    output_bytes: int = 0
    #: Split datagrams (a ristbond sender's packet pairs) put out whole again.
    joined_splits: int = 0
    nacks_sent: int = 0
    malformed: int = 0
    foreign_ssrc: int = 0
    out_of_window: int = 0
    implausible_timestamp: int = 0
    untrusted: int = 0
    overflow: int = 0
    flow_resets: int = 0
    rtcp_received: int = 0
    links_refused: int = 0
    links_expired: int = 0
    clock_steps: int = 0
    stalls: int = 0
    timing_rebases: int = 0


class _Placement(enum.Enum):
    INSIDE = "inside"
    LATE = "late"
    FAR = "far"


@dataclass(slots=True)
class _Chain:
    """Packets of one candidate flow whose sequence numbers and timestamps follow on."""

    last_seq: int
    last_ts: int
    packets: list[tuple[str, bytes, int]]

    def follows(self, seq: int, ts: int) -> bool:
        seq_step = (seq - self.last_seq) & 0xFFFF
        ts_step = (ts - self.last_ts) & 0xFFFF_FFFF
        return 0 < seq_step <= ANCHOR_MAX_SEQ_STEP and ts_step <= ANCHOR_MAX_TS_STEP


@dataclass(slots=True)
class _Candidate:
    """A flow (or a re-numbered flow) seen but not yet trusted.

    Several chains are kept because forged or stray packets of the same SSRC may be
    interleaved with the real ones; the real sender's packets form the chain that grows.
    """

    flow: int
    chains: list[_Chain]


@dataclass(slots=True)
class _Elevation:
    """First transmissions arriving well later than the playout mapping expects."""

    since_ns: int
    lowest_transit_ns: int
    packets: int = 0


class _Link:
    """What the receiver knows about one link (one sender path)."""

    def __init__(self, link_id: str, number: int, created_ns: int) -> None:
        self.link_id = link_id
        self.number = number
        self.created_ns = created_ns
        self.estimator = LinkEstimator()
        self.has_return_path = False
        self.received_packets = 0
        self.received_bytes = 0
        self.retransmits = 0
        self.duplicates = 0
        self.highest_ext = 0
        self.transit_min = WindowedExtremum(TRANSIT_WINDOW_MS * NS_PER_MS)
        # The slowest recent packet: queueing shows here, not in the minimum.
        self.transit_max = WindowedExtremum(RECENT_TRANSIT_WINDOW_MS * NS_PER_MS, maximum=True)
        self.interval_transit_sum_ns = 0
        self.interval_transit_count = 0
        self.prev_mean_transit_ns: int | None = None
        self.report_seq = 0
        self.last_report_ns: int | None = None
        self.next_rtcp_ns = 0
        self.last_sr_middle32 = 0
        self.last_sr_arrival_ns: int | None = None
        self.last_packet_ns: int | None = None
        self.last_rtcp_ns: int | None = None
        self.last_heard_ns = created_ns
        self.pending_echo: list[PendingEcho] = []
        # The last original on this link (extended seq, RTP timestamp, arrival), while
        # no other datagram followed it: the first half of a possible packet pair.
        self.pair_head: tuple[int, int, int] | None = None
        self.pair_rates_bps: list[float] = []
        self.pairs = 0
        # First transmissions that arrived here after their NACK went out (RBLR v3).
        self.late_originals = 0

    def on_rtp_arrival(
        self, ext: int, timestamp: int, retransmission: bool, size: int, now_ns: int
    ) -> bool:
        """Note one RTP datagram of our flow; True when it completes a packet pair.

        Two datagrams that left the sender back to back queue back to back at the
        narrowest hop, which spaces them by the second one's serialization time
        there: ``size × 8 / gap`` is that hop's rate, whether or not the link is busy.
        A pair is either an original followed directly by the next sequence number
        with the same RTP timestamp (one input datagram the sender split in two and
        sent together, which costs one header) or by a retransmission-flagged copy of
        itself (which any RIST receiver drops as a duplicate). Anything else, or a
        second half that arrives after some other datagram, is no pair.
        """
        head, self.pair_head = self.pair_head, None
        if not retransmission:
            self.pair_head = (ext, timestamp, now_ns)
            if head is None or ext != head[0] + 1 or timestamp != head[1]:
                return False
        elif head is None or head[0] != ext:
            return False
        gap_ns = now_ns - head[2]
        if gap_ns > 0 and len(self.pair_rates_bps) < MAX_PAIRS_PER_REPORT:
            self.pair_rates_bps.append(size * 8 * 1e9 / gap_ns)
        self.pairs += 1
        return True

    def take_dispersion(self) -> tuple[int, int]:
        """(median pair rate in kbit/s, pairs measured) since the last call; (0, 0) if none."""
        rates, self.pair_rates_bps = self.pair_rates_bps, []
        if not rates:
            return 0, 0
        median = statistics.median(rates)
        return min(0xFFFF_FFFF, max(1, round(median / 1000))), min(0xFFFF, len(rates))

    def delay_gradient_us(self) -> int:
        """Change of mean transit since the previous report interval (+ = queue growing)."""
        if self.interval_transit_count == 0:
            return 0
        mean = self.interval_transit_sum_ns // self.interval_transit_count
        previous = self.prev_mean_transit_ns
        self.prev_mean_transit_ns = mean
        self.interval_transit_sum_ns = 0
        self.interval_transit_count = 0
        return 0 if previous is None else (mean - previous) // 1000


class ReceiverEngine(EngineOutbox):
    """Merges a bonded RIST flow from any number of links into one ordered output."""

    def __init__(
        self,
        settings: ReceiverSettings,
        *,
        ntp_clock: NtpClock,
        now_ns: int,
    ) -> None:
        super().__init__(settings.max_pending_events)
        self.settings = settings
        self.ntp_clock = ntp_clock
        self.started_ns = now_ns
        self._clock = EngineClock(now_ns)
        # A forward jump absorbed as a clock step until proven a stall: (size, when).
        self._provisional_step: tuple[int, int] | None = None
        self._elevation: _Elevation | None = None
        self.counters = FlowCounters()
        self.tracker = NackTracker()
        # Extended seqs NACKed lately (insertion-ordered, at most NACKED_MEMORY): a
        # first transmission arriving for one of them was late, not lost.
        self._nacked: dict[int, None] = {}
        self.links: dict[str, _Link] = {}
        self._link_numbers = 0
        self._latency_ns = settings.latency_ms * NS_PER_MS
        self._ssrc: int | None = None
        self._sender_speaks_rist = True
        self._flow_started_ns: int | None = None
        self._candidates: dict[int, _Candidate] = {}
        # flow → (RTP timestamp in its latest SR, arrival time of that SR)
        self._announced: dict[int, tuple[int, int]] = {}
        self._last_flow_ns: int | None = None
        self._last_accept_ns: int | None = None
        self._highest: int | None = None
        self._next_out: int | None = None
        self._ts_ext: int | None = None
        self._transit_min = WindowedExtremum(TRANSIT_WINDOW_MS * NS_PER_MS)
        self._rate = WindowedSum(RATE_WINDOW_MS * NS_PER_MS)
        # ext → (payload, release time, transit at arrival, RTP timestamp, marker)
        self._buffer: dict[int, tuple[bytes, int, int, int, bool]] = {}
        self._heap: list[int] = []
        self._buffered_bytes = 0
        self._output: list[bytes] = []
        self._snapshot_seq = 0
        self.timing = derive_timing(settings.latency_ms, None)
        # The inputs the current timing was derived from (see ``_refresh_timing``).
        self._timing_inputs: tuple[float | None, float | None, float] | None = None
        self._backward_counted = 0

    # -- clock ------------------------------------------------------------------------

    def _now(self, now_ns: int) -> int:
        """The engine time for the caller's ``now_ns`` (see the module docstring)."""
        clock = self._clock
        previous = clock.last_ns
        now = clock.read(now_ns)
        self.counters.clock_steps += clock.backward_steps - self._backward_counted
        self._backward_counted = clock.backward_steps
        if now - previous > CLOCK_JUMP_NS:
            due = self._next_deadline_engine()
            if due is not None and now - max(due, previous) > CLOCK_JUMP_NS:
                amount = now - max(due, previous)
                now = clock.absorb(amount)
                self._provisional_step = (amount, now)
        step = self._provisional_step
        if step is not None and now - step[1] >= CLOCK_STEP_CONFIRM_NS:
            self._provisional_step = None
            self.counters.clock_steps += 1
        return now

    def _stall_evidence(self, transit: int, base: float | None) -> int:
        """How far to move the clock back on: a packet whose transit is well below the
        minimum after a provisional forward step shows that the time really passed."""
        if self._provisional_step is None or base is None:
            return 0
        amount = self._provisional_step[0]
        if transit >= base - amount // 2:
            return 0
        self._clock.give_back(amount)
        self._provisional_step = None
        self.counters.stalls += 1
        return amount

    # -- input ------------------------------------------------------------------------

    def receive_datagram(self, link_id: str, data: bytes, now_ns: int) -> None:
        """Feed one datagram from ``link_id`` (RTP or RTCP, told apart by content)."""
        now_ns = self._now(now_ns)
        link = self._link(link_id, now_ns)
        if link is None:
            self.counters.links_refused += 1
            return
        try:
            kind = classify_datagram(data)
            if kind is DatagramKind.RTP:
                self._on_rtp(link, data, now_ns)
            else:
                packets, tail_error = parse_compound_prefix(data)
                if tail_error is not None:
                    # Junk after valid packets (a peer quirk): count it, keep the rest.
                    self.counters.malformed += 1
                    self._emit(MalformedDatagram(link_id, f"trailing: {tail_error.reason}",
                                                 now_ns))
                self._on_rtcp(link, packets, now_ns)
        except ProtocolError as exc:
            self.counters.malformed += 1
            self._emit(MalformedDatagram(link_id, exc.reason, now_ns))

    def _link(self, link_id: str, now_ns: int) -> _Link | None:
        link = self.links.get(link_id)
        if link is None:
            if len(self.links) >= self.settings.max_links and not self._evict_idle(
                now_ns, FULL_LINK_IDLE_NS
            ):
                return None
            self._link_numbers += 1
            link = _Link(link_id, self._link_numbers & 0xFFFF, now_ns)
            link.last_heard_ns = now_ns
            link.next_rtcp_ns = now_ns
            self.links[link_id] = link
        link.last_heard_ns = now_ns
        return link

    def _evict_idle(self, now_ns: int, idle_ns: int) -> bool:
        """Forget the longest-silent link if it has been silent for ``idle_ns``.

        Peers' source addresses change (NAT rebinding, a modem reconnecting), so a
        long-running receiver must let old paths go or it would refuse new ones.
        """
        if not self.links:
            return False
        idlest = min(self.links.values(), key=lambda link: link.last_heard_ns)
        if now_ns - idlest.last_heard_ns < idle_ns:
            return False
        del self.links[idlest.link_id]
        self.counters.links_expired += 1
        return True

    def _on_rtp(self, link: _Link, data: bytes, now_ns: int) -> None:
        _pt, marker, seq, ts, ssrc, start, end = unpack_rtp_header(data)
        if end - start > self.settings.max_payload_bytes:
            raise _oversize(end - start, self.settings.max_payload_bytes)
        flow = ssrc & 0xFFFF_FFFE
        if self._ssrc is None or flow != self._ssrc:
            silent = self._last_flow_ns is None or (
                now_ns - self._last_flow_ns >= self.settings.flow_timeout_ms * NS_PER_MS
            )
            if self._ssrc is not None and not silent:
                self.counters.foreign_ssrc += 1
                return
            self._consider(link, data, seq=seq, ts=ts, flow=flow, now_ns=now_ns, why="new SSRC")
            return
        ext = self._extend_seq(seq)
        if self._nacked and not ssrc & 1 and ext in self._nacked:
            del self._nacked[ext]
            link.late_originals += 1
        placement = self._placement(ext)
        if placement is not _Placement.INSIDE:
            # Only a first transmission far from the playout point can be evidence that
            # the sender re-numbered; a late or retransmitted packet never is.
            if placement is _Placement.FAR and not ssrc & 1:
                self._consider_jump(link, data, seq=seq, ts=ts, flow=flow, now_ns=now_ns)
            return
        paired = link.on_rtp_arrival(ext, ts, bool(ssrc & 1), len(data), now_ns)
        if paired:
            self.counters.probe_pairs += 1
        if ext in self._buffer:
            if not paired:
                self.counters.duplicate += 1
                link.duplicates += 1
            return
        size = end - start
        if self._buffered_bytes + size > self.settings.max_buffer_bytes:
            self.counters.overflow += 1
            return
        ts_ns = self._timestamp_ns(ts, commit=False)
        transit = now_ns - ts_ns
        base = self._transit_min.value(now_ns)
        retransmission = bool(ssrc & 1)
        if not retransmission:
            given_back = self._stall_evidence(transit, base)
            now_ns += given_back
            transit += given_back
        if base is not None and not (
            -self._latency_ns - TRANSIT_TOLERANCE_NS
            <= transit - base
            <= 2 * self._latency_ns + TRANSIT_TOLERANCE_NS
        ):
            self.counters.implausible_timestamp += 1
            if not ssrc & 1:
                self._consider_jump(link, data, seq=seq, ts=ts, flow=flow, now_ns=now_ns)
            return
        self._timestamp_ns(ts, commit=True)
        self._last_flow_ns = now_ns
        link.received_packets += 1
        link.received_bytes += size
        link.last_packet_ns = now_ns
        link.highest_ext = max(link.highest_ext, ext)
        self.counters.received += 1
        self.counters.received_bytes += size
        if retransmission:
            link.retransmits += 1
            self.counters.retransmitted_received += 1
        elif self._provisional_step is None:
            # Only first transmissions describe the path (a retransmission left late),
            # and not while a clock jump may yet turn out to have been a stall.
            if base is not None:
                self._watch_transit(transit, base, now_ns)
            link.transit_min.update(transit, now_ns)
            link.transit_max.update(transit, now_ns)
            link.interval_transit_sum_ns += transit
            link.interval_transit_count += 1
            link.estimator.on_packet_arrival(ts, now_ns)
            self._transit_min.update(transit, now_ns)
        base = self._transit_min.value(now_ns)
        release_ns = ts_ns + int(base if base is not None else transit) + self._latency_ns
        self.tracker.on_arrival(ext)
        if self._highest is None or ext > self._highest:
            if self._highest is not None:
                self._rate.add(1, now_ns)  # packets that advance the sequence, per second
            if self._highest is not None and ext > self._highest + 1:
                window_ns = int(self.timing.reorder_window_ms * NS_PER_MS)
                # Only the newest gap entries are worth tracking: older ones could not
                # be recovered in time anyway, and a forged far-ahead sequence number
                # must not turn into a NACK storm.
                first = max(self._highest + 1, ext - self._max_tracked_gap(now_ns))
                for missing in range(first, ext):
                    self.tracker.add_gap(missing, now_ns, window_ns, release_ns)
            self._highest = ext
        elif self._next_out is None and self._heap and ext + 1 < self._heap[0]:
            # Nothing played out yet and this packet lies below all that is buffered:
            # the stream began earlier than its first arrivals showed (the first
            # packets went over slower links), and the packets in between are missing
            # like any other gap, not simply never asked for.
            window_ns = int(self.timing.reorder_window_ms * NS_PER_MS)
            last = min(self._heap[0], ext + 1 + self._max_tracked_gap(now_ns))
            for missing in range(ext + 1, last):
                self.tracker.add_gap(missing, now_ns, window_ns, release_ns)
        self._buffer[ext] = (data[start:end], release_ns, transit, ts, marker)
        heapq.heappush(self._heap, ext)
        self._buffered_bytes += size
        self._last_accept_ns = now_ns

    def _watch_transit(self, transit: int, base: float, now_ns: int) -> None:
        """Re-base the playout mapping when the transit rose for good on every link.

        A packet more than half the latency later than the mapping expects leaves
        little time to reorder or recover; when all first transmissions have been that
        late for a quarter of the latency, the mapping moves up to the lowest of them.
        """
        if transit - base <= self._latency_ns // 2:
            self._elevation = None
            return
        elevation = self._elevation
        if elevation is None:
            self._elevation = _Elevation(now_ns, transit, 1)
            return
        elevation.lowest_transit_ns = min(elevation.lowest_transit_ns, transit)
        elevation.packets += 1
        if (now_ns - elevation.since_ns < self._latency_ns // 4
                or elevation.packets < REBASE_MIN_PACKETS):
            return
        self._rebase(base, elevation.lowest_transit_ns, now_ns)

    def _rebase(self, old_base: float, new_base: int, now_ns: int) -> None:
        """Move the playout mapping from ``old_base`` up to ``new_base``.

        Packets that arrived late by the same measure and wait under the old mapping move
        with it, and so do the deadlines of the gaps they revealed; packets that came
        under the old transit keep their place.
        """
        delta = int(new_base - old_base)
        threshold = old_base + self._latency_ns // 2
        moved: set[int] = set()
        for ext, (payload, release_ns, transit, ts, marker) in self._buffer.items():
            if transit > threshold:
                moved.add(release_ns)
                self._buffer[ext] = (payload, release_ns + delta, transit, ts, marker)
        self.tracker.postpone_deadlines(moved, delta)
        self._transit_min.reset()
        self._transit_min.update(new_base, now_ns)
        for link in self.links.values():
            link.transit_min.reset()
            link.transit_max.reset()
        self._elevation = None
        self.counters.timing_rebases += 1

    def _max_tracked_gap(self, now_ns: int) -> int:
        """How many missing packets one jump may add: twice the latency's worth."""
        per_s = self._rate.total(now_ns) / (RATE_WINDOW_MS / 1000)
        return max(MIN_TRACKED_GAP, int(2 * per_s * self.settings.latency_ms / 1000))

    def _consider_jump(
        self, link: _Link, data: bytes, *, seq: int, ts: int, flow: int, now_ns: int
    ) -> None:
        """A packet of our flow that does not fit: a re-numbered sender, or garbage.

        Only once accepted traffic has stopped for ``resync_after_ms`` may a consistent
        new numbering take over; until then such packets are just dropped.
        """
        quiet_ns = now_ns - (self._last_accept_ns or now_ns)
        if quiet_ns >= self.settings.resync_after_ms * NS_PER_MS:
            self._consider(link, data, seq=seq, ts=ts, flow=flow, now_ns=now_ns,
                           why="sequence discontinuity")

    def _consider(
        self, link: _Link, data: bytes, *, seq: int, ts: int, flow: int, now_ns: int, why: str
    ) -> None:
        """Collect evidence for a flow; adopt it (and replay its packets) once trusted."""
        announcement = self._announced.get(flow)
        if announcement is not None and not _near_announced(announcement, ts, now_ns):
            # The sender's SR says where its timestamps are now; this is not one of them.
            self.counters.untrusted += 1
            return
        candidate = self._candidates.get(flow)
        if candidate is None:
            if len(self._candidates) >= MAX_CANDIDATES:
                # Evict the candidate with the least evidence, so a flood of random SSRCs
                # cannot push out the real sender.
                weakest = min(self._candidates.values(), key=_evidence)
                del self._candidates[weakest.flow]
            candidate = _Candidate(flow, [])
            self._candidates[flow] = candidate
        chain = next((c for c in candidate.chains if c.follows(seq, ts)), None)
        if chain is None:
            if len(candidate.chains) >= ANCHOR_CHAINS:
                shortest = min(range(len(candidate.chains)),
                               key=lambda i: len(candidate.chains[i].packets))
                candidate.chains.pop(shortest)
            chain = _Chain(seq, ts, [])
            candidate.chains.append(chain)
        chain.last_seq, chain.last_ts = seq, ts
        chain.packets.append((link.link_id, data, now_ns))
        needed = ANCHOR_PACKETS_ANNOUNCED if flow in self._announced else ANCHOR_PACKETS
        if len(chain.packets) < needed:
            self.counters.untrusted += 1
            return
        if self._ssrc is not None:
            self._reset_flow(now_ns, f"{why}: flow {flow:#010x}")
        self._ssrc = flow
        self._flow_started_ns = now_ns
        self._candidates.clear()
        for link_id, packet, arrival_ns in _adopted_packets(chain, candidate.chains):
            self._on_rtp(self.links[link_id], packet, arrival_ns)

    def _reset_flow(self, now_ns: int, reason: str) -> None:
        skipped = len(self._buffer)
        if skipped:
            self._emit(PacketSkipped(self._next_out or 0, skipped, "flow_reset", now_ns))
            self.counters.lost += skipped
        self._buffer.clear()
        self._heap.clear()
        self._buffered_bytes = 0
        self.tracker.clear()
        self._nacked.clear()
        self._highest = None
        self._next_out = None
        self._ts_ext = None
        self._transit_min.reset()
        self._elevation = None
        self._last_accept_ns = None
        self._flow_started_ns = now_ns
        self.counters.flow_resets += 1
        self._emit(FlowReset(self._ssrc or 0, reason, now_ns))

    def _extend_seq(self, seq: int) -> int:
        if self._highest is None:
            return seq + SEQ_CYCLE
        diff = ((seq - self._highest + 0x8000) & 0xFFFF) - 0x8000
        return self._highest + diff

    def _placement(self, ext: int) -> _Placement:
        """Where ``ext`` falls: inside the buffer window, just behind the playout point
        (late), or far away (out of window); counts the last two."""
        window = self.settings.max_buffer_packets
        floor = self._next_out if self._next_out is not None else (
            (self._highest or ext) - window // 2
        )
        if floor <= ext < floor + window:
            return _Placement.INSIDE
        if floor - window <= ext < floor:
            self.counters.late += 1
            return _Placement.LATE
        self.counters.out_of_window += 1
        return _Placement.FAR

    def _timestamp_ns(self, ts: int, *, commit: bool) -> int:
        """Extend the 32-bit RTP timestamp and convert it to ns on the sender's scale.

        With ``commit`` the newest extended timestamp advances; without, it is a peek.
        """
        if self._ts_ext is None:
            ext = ts + TS_CYCLE
        else:
            diff = ((ts - self._ts_ext + (TS_CYCLE >> 1)) % TS_CYCLE) - (TS_CYCLE >> 1)
            ext = self._ts_ext + diff
        if commit and (self._ts_ext is None or ext > self._ts_ext):
            self._ts_ext = ext
        return rtp_ticks_to_ns(ext)

    def _on_rtcp(self, link: _Link, packets: list[RtcpPacket], now_ns: int) -> None:
        self.counters.rtcp_received += 1
        link.has_return_path = True
        link.last_rtcp_ns = now_ns
        link.estimator.on_feedback(now_ns)
        if any(isinstance(p, SenderReport) for p in packets):
            # RIST senders (librist, ristbond) put an echo request in every SR compound;
            # GStreamer's ristsink sends SR + SDES only.
            self._sender_speaks_rist = any(isinstance(p, RistEchoRequest) for p in packets)
        for packet in packets:
            if isinstance(packet, SenderReport):
                link.last_sr_middle32 = ntp_middle32(packet.ntp_timestamp)
                link.last_sr_arrival_ns = now_ns
                # A sender report is evidence that this SSRC is a real sender.
                flow = packet.ssrc & 0xFFFF_FFFE
                if flow in self._announced or len(self._announced) < MAX_CANDIDATES:
                    self._announced[flow] = (packet.rtp_timestamp, now_ns)
            elif isinstance(packet, RistEchoRequest):
                if len(link.pending_echo) < 4:
                    link.pending_echo.append(
                        PendingEcho(packet.ssrc, packet.ntp_timestamp, now_ns)
                    )
            elif isinstance(packet, RistEchoResponse):
                now_ntp = self.ntp_clock.ntp_from_monotonic(now_ns)
                rtt_ns = echo_rtt_ns(now_ntp, packet.ntp_timestamp, packet.processing_delay_us)
                link.estimator.on_rtt_sample(rtt_ns / NS_PER_MS, now_ns)
            elif isinstance(packet, Goodbye | SourceDescription):
                continue

    # -- timers -----------------------------------------------------------------------

    def next_deadline(self) -> int | None:
        """The earliest instant ``on_deadline`` has work to do (on the caller's clock)."""
        due = self._next_deadline_engine()
        return None if due is None else self._clock.to_caller(due)

    def _next_deadline_engine(self) -> int | None:
        candidates = [link.next_rtcp_ns for link in self.links.values() if link.has_return_path]
        due = self.tracker.next_due()
        if due is not None:
            candidates.append(due)
        release = self._next_release_ns()
        if release is not None:
            candidates.append(release)
        return min(candidates) if candidates else None

    def _next_release_ns(self) -> int | None:
        while self._heap and self._heap[0] not in self._buffer:
            heapq.heappop(self._heap)
        return self._buffer[self._heap[0]][1] if self._heap else None

    def on_deadline(self, now_ns: int) -> None:
        """Release due packets, send due NACKs and the periodic per-link RTCP."""
        now_ns = self._now(now_ns)
        while self._evict_idle(now_ns, LINK_EXPIRY_NS):
            pass
        self._refresh_timing(now_ns)
        self._release(now_ns)
        self._send_nacks(now_ns)
        for link in self.links.values():
            if link.has_return_path and (link.next_rtcp_ns <= now_ns or link.pending_echo):
                self._send_link_rtcp(link, now_ns, periodic=link.next_rtcp_ns <= now_ns)

    def _refresh_timing(self, now_ns: int) -> None:
        rtts: list[float] = []
        fastest: list[float] = []
        slowest: list[float] = []
        jitter = 0.0
        # A link heard of lately that has not shown its delay yet may be the slow one.
        discovering = False
        for link in self.links.values():  # one pass: this runs on every wake-up
            srtt = link.estimator.rtt.srtt_ms
            if srtt is not None:
                rtts.append(srtt)
            low = link.transit_min.value(now_ns)
            if low is not None:
                fastest.append(low)
            elif now_ns - link.created_ns < LINK_DISCOVERY_NS:
                discovering = True
            high = link.transit_max.value(now_ns)
            if high is not None:
                slowest.append(high)
            jitter = max(jitter, link.estimator.jitter.jitter_ms)
        settled = (
            self._flow_started_ns is not None
            and now_ns - self._flow_started_ns >= LINK_DISCOVERY_NS
        )
        spread_ms: float | None = None
        if settled and fastest and slowest and not discovering:
            # From the fastest path's best to any link's recent worst: how much later than
            # its successors a packet can arrive without being lost.
            spread_ms = max(0.0, (max(slowest) - min(fastest)) / NS_PER_MS)
        inputs = (min(rtts) if rtts else None, spread_ms, jitter)
        if inputs != self._timing_inputs:  # deriving is the costly part; inputs rarely move
            self._timing_inputs = inputs
            self.timing = derive_timing(self.settings.latency_ms, *inputs)

    def _release(self, now_ns: int) -> None:
        while self._heap:
            ext = self._heap[0]
            entry = self._buffer.get(ext)
            if entry is None:
                heapq.heappop(self._heap)
                continue
            payload, release_ns, _transit, ts, marker = entry
            if release_ns > now_ns:
                break
            heapq.heappop(self._heap)
            del self._buffer[ext]
            self._buffered_bytes -= len(payload)
            if self._next_out is not None and ext > self._next_out:
                gap = ext - self._next_out
                self.counters.lost += gap
                self._emit(PacketSkipped(self._next_out, gap, "deadline", now_ns))
            last = ext
            if marker:
                payload, last = self._join_split(ext, ts, payload)
            self.tracker.forget_below(last + 1)
            self._next_out = last + 1
            self._output.append(payload)
            self.counters.output_packets += 1
            self.counters.output_bytes += len(payload)

    def _join_split(self, ext: int, ts: int, payload: bytes) -> tuple[bytes, int]:
        """The first half ``ext`` of a split datagram joined with its second half.

        A ristbond sender times links by sending one input datagram as two RTP packets
        (consecutive sequence numbers, one timestamp, the marker bit on the first);
        joining them here gives the output the sender's datagrams back. The second
        half is joined only if it is already here (it shares the first's playout
        time), carries the same timestamp and the whole fits ``max_payload_bytes``;
        otherwise the halves leave as two datagrams with the same bytes.
        Returns the payload and the last sequence number it covers.
        """
        after = self._buffer.get(ext + 1)
        if (
            after is None
            or after[3] != ts
            or len(payload) + len(after[0]) > self.settings.max_payload_bytes
        ):
            return payload, ext
        del self._buffer[ext + 1]  # its heap entry is skipped as stale
        self._buffered_bytes -= len(after[0])
        self.counters.joined_splits += 1
        return payload + after[0], ext + 1

    def _nack_links(self, now_ns: int) -> list[_Link]:
        """The links NACKs go over: with a return path, heard from lately, lowest RTT first."""
        usable = [link for link in self.links.values() if link.has_return_path]

        def rank(link: _Link) -> tuple[bool, float, int]:
            heard = max(link.last_packet_ns or 0, link.last_rtcp_ns or 0)
            silent = now_ns - heard > SILENT_LINK_NS
            return (silent, link.estimator.rtt.srtt_ms or float("inf"), link.number)

        usable.sort(key=rank)
        return usable[: max(1, self.settings.nack_links)]

    def _send_nacks(self, now_ns: int) -> None:
        timing = self.timing
        seqs = self.tracker.due(
            now_ns,
            retry_ns=int(timing.nack_retry_interval_ms * NS_PER_MS),
            max_retries=timing.max_nack_retries,
            answer_ns=int(timing.rtt_ms * NS_PER_MS),
        )
        if not seqs or self._ssrc is None:
            return
        links = self._nack_links(now_ns)
        if not links:
            return
        nacked = self._nacked
        for ext in seqs:
            nacked[ext] = None
        while len(nacked) > NACKED_MEMORY:
            del nacked[next(iter(nacked))]
        form = self.nack_form_now()
        records = range_nack_records(seqs) if form == "range" else generic_nack_records(seqs)
        for first in range(0, len(records), MAX_NACK_RECORDS):
            chunk = tuple(records[first : first + MAX_NACK_RECORDS])
            nack: RtcpPacket
            reporter = self._reporter_ssrc()
            if form == "range":
                nack = RangeNack(self._ssrc, chunk)  # librist matches it by the flow's SSRC
            else:
                nack = GenericNack(reporter, self._ssrc, chunk)
            data = build_compound(
                [ReceiverReport(reporter), SourceDescription.with_cname(
                    reporter, self.settings.cname), nack]
            )
            for link in links:
                self._send(link.link_id, Channel.RTCP, data)
                self.counters.nacks_sent += 1
                self._emit(NackSent(link.link_id, min(seqs), len(seqs), now_ns))

    def nack_form_now(self) -> Literal["range", "generic"]:
        """The NACK form in use: the configured one, or with ``auto`` the one the sender
        understands: RIST range NACKs for RIST senders (librist, ristbond: an echo
        request in every SR compound), RFC 4585 generic NACKs otherwise (GStreamer's
        ristsink ignores range NACKs). Until a sender report arrives, range."""
        if self.settings.nack_form != "auto":
            return self.settings.nack_form
        return "range" if self._sender_speaks_rist else "generic"

    def _reporter_ssrc(self) -> int:
        """The SSRC our RTCP carries: the sender's own for RIST peers, as librist's
        receiver does; a distinct one otherwise, since a GStreamer sender seeing its own
        SSRC from elsewhere takes it for a collision and renumbers its stream."""
        flow = self._ssrc or 0
        return flow if self._sender_speaks_rist else (flow ^ RECEIVER_SSRC_MASK) & ~1

    def _send_link_rtcp(self, link: _Link, now_ns: int, *, periodic: bool) -> None:
        if self._ssrc is None:
            link.next_rtcp_ns = now_ns + RTCP_INTERVAL_NS
            return
        packets: list[RtcpPacket] = []
        reporter = self._reporter_ssrc()
        if periodic:
            packets.append(ReceiverReport(reporter, (self._report_block(link, now_ns),)))
        else:
            packets.append(ReceiverReport(reporter))
        packets.append(SourceDescription.with_cname(reporter, self.settings.cname))
        packets.extend(echo.response(now_ns) for echo in link.pending_echo)
        link.pending_echo.clear()
        if periodic:
            packets.append(
                RistEchoRequest(reporter, self.ntp_clock.ntp_from_monotonic(now_ns), 0)
            )
            packets.append(self._link_report(link, now_ns))
            link.next_rtcp_ns = now_ns + RTCP_INTERVAL_NS
        self._send(link.link_id, Channel.RTCP, build_compound(packets))

    def _report_block(self, link: _Link, now_ns: int) -> ReportBlock:
        dlsr = 0
        if link.last_sr_arrival_ns is not None:
            dlsr = ns_to_ntp_short(now_ns - link.last_sr_arrival_ns)
        return ReportBlock(
            ssrc=self._ssrc or 0,
            fraction_lost=0,
            cumulative_lost=min(self.counters.lost, 0x7F_FFFF),
            highest_sequence=link.highest_ext & 0xFFFF_FFFF,
            jitter=min(0xFFFF_FFFF, int(link.estimator.jitter.jitter_ticks)),
            last_sr=link.last_sr_middle32,
            delay_since_last_sr=dlsr,
        )

    def _link_report(self, link: _Link, now_ns: int) -> LinkReceiverReport:
        interval_ns = now_ns - (link.last_report_ns if link.last_report_ns is not None
                                else self.started_ns)
        link.last_report_ns = now_ns
        link.report_seq = (link.report_seq + 1) & 0xFFFF_FFFF
        dispersion_kbps, pairs = link.take_dispersion()
        return LinkReceiverReport(
            ssrc=self._ssrc or 0,
            link_id=link.number,
            report_seq=link.report_seq,
            interval_us=min(0xFFFF_FFFF, max(0, interval_ns // 1000)),
            received_packets=link.received_packets,
            received_bytes=link.received_bytes,
            highest_ext_seq=link.highest_ext,
            delay_gradient_us=max(-(2**31), min(2**31 - 1, link.delay_gradient_us())),
            dispersion_kbps=dispersion_kbps,
            dispersion_pairs=pairs,
            late_originals=link.late_originals & 0xFFFF_FFFF,
        )

    # -- output -----------------------------------------------------------------------

    def pop_output(self) -> list[bytes]:
        """Payloads released for output, in sequence order."""
        out, self._output = self._output, []
        return out

    # -- stats ------------------------------------------------------------------------

    @property
    def buffered_packets(self) -> int:
        """Packets waiting for their playout time."""
        return len(self._buffer)

    @property
    def buffered_bytes(self) -> int:
        """Payload bytes waiting for their playout time."""
        return self._buffered_bytes

    def _buffered_ms(self, now_ns: int) -> int:
        """Media held ahead of the output: the newest buffered packet's release − now."""
        newest = self._buffer.get(self._highest) if self._highest is not None else None
        return max(0, (newest[1] - now_ns) // NS_PER_MS) if newest is not None else 0

    def stats(self, now_ns: int) -> dict[str, Any]:
        """One snapshot in the versioned stats schema (cumulative counters)."""
        caller_ns, now_ns = now_ns, self._clock.peek(now_ns)
        self._snapshot_seq += 1
        flow = {
            "ssrc": self._ssrc,
            **{name: getattr(self.counters, name) for name in FlowCounters.__slots__},
            "nack_form": self.nack_form_now(),
            "events_dropped": self.events_dropped,
            "recovered": self.tracker.counters.recovered,
            "reordered": self.tracker.counters.reordered,
            "nack_requests": self.tracker.counters.requests,
            "nack_abandoned_deadline": self.tracker.counters.abandoned_deadline,
            "nack_abandoned_retries": self.tracker.counters.abandoned_retries,
            "missing_now": len(self.tracker),
            "buffer_packets": len(self._buffer),
            "buffer_bytes": self._buffered_bytes,
            "buffer_ms": self._buffered_ms(now_ns),
        }
        links = []
        for link in self.links.values():
            metrics = link.estimator.snapshot(now_ns)
            transit = link.transit_min.value(now_ns)
            base = self._transit_min.value(now_ns)
            links.append({
                "id": link.link_id,
                "received_packets": link.received_packets,
                "received_bytes": link.received_bytes,
                "retransmits_received": link.retransmits,
                "duplicates": link.duplicates,
                "late_originals": link.late_originals,
                "probe_pairs": link.pairs,
                "rtt_ms": metrics.rtt_ms,
                "jitter_ms": metrics.jitter_ms,
                "extra_delay_ms": (transit - base) / NS_PER_MS
                if transit is not None and base is not None else None,
                "last_packet_age_ms": (now_ns - link.last_packet_ns) / NS_PER_MS
                if link.last_packet_ns is not None else None,
                "has_return_path": link.has_return_path,
            })
        return snapshot(
            role="receiver", seq=self._snapshot_seq, now_ns=caller_ns,
            unix_minus_monotonic_ns=self.ntp_clock.unix_minus_monotonic_ns,
            started_ns=self._clock.to_caller(self.started_ns), derived=self.timing.as_dict(),
            flow=flow, links=links,
        )


def _adopted_packets(chain: _Chain, chains: list[_Chain]) -> list[tuple[str, bytes, int]]:
    """The packets to replay when ``chain``'s flow is adopted, in sequence order.

    Links differ in delay, so the stream's first packets often arrive out of order: the
    first packet, sent on a slow link, lands after the second and starts a chain of its
    own. Packets of the other chains that lead up to the adopted one (at most
    ``ANCHOR_MAX_SEQ_STEP`` earlier, timestamps close) belong to the same stream and
    are replayed with it instead of being lost at the start.
    """
    first_seq, first_ts = _seq_ts(chain.packets[0][1])
    by_seq: dict[int, tuple[str, bytes, int]] = {}
    for other in chains:
        if other is chain:
            continue
        for entry in other.packets:
            seq, ts = _seq_ts(entry[1])
            back = (first_seq - seq) & 0xFFFF
            if 0 < back <= ANCHOR_MAX_SEQ_STEP and \
                    (first_ts - ts) & 0xFFFF_FFFF <= ANCHOR_MAX_TS_STEP:
                by_seq.setdefault(back, entry)
    leading = [by_seq[back] for back in sorted(by_seq, reverse=True)]
    return leading + chain.packets


def _seq_ts(data: bytes) -> tuple[int, int]:
    _pt, _marker, seq, ts, _ssrc, _start, _end = unpack_rtp_header(data)
    return seq, ts


def _evidence(candidate: _Candidate) -> int:
    return max((len(chain.packets) for chain in candidate.chains), default=0)


def _near_announced(announcement: tuple[int, int], ts: int, now_ns: int) -> bool:
    """Is ``ts`` within a few seconds of what the sender's last SR predicts for now?"""
    sr_ts, sr_arrival_ns = announcement
    predicted = sr_ts + (now_ns - sr_arrival_ns) * 90_000 // 1_000_000_000
    offset = ((ts - predicted + (TS_CYCLE >> 1)) % TS_CYCLE) - (TS_CYCLE >> 1)
    return abs(offset) <= ANCHOR_MAX_TS_STEP


def _oversize(size: int, limit: int) -> ProtocolError:
    from ristbond_core.wire import BadLength

    return BadLength(f"RTP payload of {size} bytes exceeds the {limit}-byte limit")


__all__ = ["ArqState", "ReceiverEngine", "ReceiverSettings", "TimingPlan"]
