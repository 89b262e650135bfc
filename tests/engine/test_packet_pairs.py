"""Packet pairs: the sender times a link's bottleneck without filling it.

The sender splits one input datagram into two packets sent back to back with one
timestamp (or, when it cannot split, puts a retransmission-flagged copy right behind
an original); the receiver times the two arrivals and reports the rate in its RBLR
link report; the sender's capacity estimate of the link follows it.
"""

from __future__ import annotations

import itertools

from ristbond_core.engine.estimators import CapacityEstimator, LinkEstimator
from ristbond_core.engine.receiver import ReceiverEngine, ReceiverSettings
from ristbond_core.engine.sender import SenderSettings
from ristbond_core.sim.link_model import LinkModel
from ristbond_core.sim.pair import PairSimulation
from ristbond_core.wire import (
    LinkReceiverReport,
    NtpClock,
    RistEchoRequest,
    RtpPacket,
    SenderReport,
    SourceDescription,
    build_compound,
    parse_compound,
)
from tests.engine.test_engine_pair import RoundRobin

MS = 1_000_000
S = 1_000_000_000
SSRC = 0x5249_5354
PAYLOAD = bytes(1316)


def _rtp(seq: int, *, retransmission: bool = False, timestamp: int | None = None,
         payload: bytes = PAYLOAD, marker: bool = False) -> bytes:
    return bytes(RtpPacket(sequence_number=seq,
                           timestamp=seq * 90 if timestamp is None else timestamp,
                           ssrc=SSRC | int(retransmission), payload=payload, marker=marker))


def _receiver() -> ReceiverEngine:
    return ReceiverEngine(ReceiverSettings(latency_ms=500), ntp_clock=NtpClock(0), now_ns=0)


def _link_reports(receiver: ReceiverEngine, now_ns: int) -> list[LinkReceiverReport]:
    receiver.on_deadline(now_ns)
    reports = []
    for out in receiver.datagrams_to_send(now_ns):
        reports += [p for p in parse_compound(out.data) if isinstance(p, LinkReceiverReport)]
    return reports


def test_the_receiver_times_a_copy_right_behind_its_original() -> None:
    receiver = _receiver()
    hello = [SenderReport(SSRC, 1 << 32, 0), SourceDescription.with_cname(SSRC, "peer"),
             RistEchoRequest(SSRC, 1 << 32)]
    receiver.receive_datagram("a", build_compound(hello), 0)  # a return path
    now = 10 * MS
    for seq in range(100, 110):  # anchor the flow
        receiver.receive_datagram("a", _rtp(seq), now)
        now += 5 * MS
    size = len(_rtp(110))
    # 1 ms between the original and its copy: the copy's bits took 1 ms at the bottleneck.
    receiver.receive_datagram("a", _rtp(110), now)
    receiver.receive_datagram("a", _rtp(110, retransmission=True), now + 1 * MS)
    # A copy behind another packet (a NACK answer, say) is no pair.
    receiver.receive_datagram("a", _rtp(111), now + 5 * MS)
    receiver.receive_datagram("a", _rtp(112), now + 6 * MS)
    receiver.receive_datagram("a", _rtp(111, retransmission=True), now + 7 * MS)
    reports = _link_reports(receiver, now + 200 * MS)
    assert len(reports) == 1
    assert reports[0].dispersion_pairs == 1
    assert reports[0].dispersion_kbps == round(size * 8 / 1e-3 / 1000)
    assert receiver.counters.probe_pairs == 1
    assert receiver.counters.duplicate == 1  # the unpaired copy of 111
    # Measured once, reported once: the next report has no pair.
    assert _link_reports(receiver, now + 400 * MS)[0].dispersion_pairs == 0


def test_the_receiver_times_the_two_halves_of_a_split_datagram() -> None:
    receiver = _receiver()
    hello = [SenderReport(SSRC, 1 << 32, 0), SourceDescription.with_cname(SSRC, "peer"),
             RistEchoRequest(SSRC, 1 << 32)]
    receiver.receive_datagram("a", build_compound(hello), 0)
    now = 10 * MS
    for seq in range(100, 110):
        receiver.receive_datagram("a", _rtp(seq), now)
        now += 5 * MS
    first_half, half = b"\x47" * 564, b"\x48" * 752
    second = _rtp(111, timestamp=110 * 90, payload=half)
    # Consecutive sequence numbers, one timestamp, nothing in between: a pair; the
    # second half's bits took 0.5 ms at the bottleneck.
    receiver.receive_datagram("a", _rtp(110, payload=first_half, marker=True), now)
    receiver.receive_datagram("a", second, now + MS // 2)
    # Not pairs: a timestamp that differs, a sequence number that skips, or another
    # link's datagram in between on this link's arrivals (here: a copy of 112).
    receiver.receive_datagram("a", _rtp(112), now + 5 * MS)
    receiver.receive_datagram("a", _rtp(113), now + 6 * MS)
    receiver.receive_datagram("a", _rtp(115, timestamp=113 * 90), now + 7 * MS)
    receiver.receive_datagram("a", _rtp(116, timestamp=200 * 90), now + 8 * MS)
    receiver.receive_datagram("a", _rtp(116, retransmission=True), now + 9 * MS)
    receiver.receive_datagram("a", _rtp(117, timestamp=200 * 90), now + 10 * MS)
    reports = _link_reports(receiver, now + 200 * MS)
    assert reports[0].dispersion_pairs == 2  # the halves, and 116 with its copy
    rates = sorted((len(second) * 8 / 0.5e-3, len(_rtp(116)) * 8 / 1e-3))
    assert reports[0].dispersion_kbps == round((rates[0] + rates[1]) / 2 / 1000)
    assert receiver.counters.probe_pairs == 2
    assert receiver.counters.duplicate == 0
    # The marked first half and its second half leave as the datagram they were split from.
    out = _drain(receiver, now + 200 * MS, now + 2 * S)
    assert first_half + half in out
    assert receiver.counters.joined_splits == 1


def _anchored_receiver(settings: ReceiverSettings | None = None) -> tuple[ReceiverEngine, int]:
    receiver = ReceiverEngine(settings or ReceiverSettings(latency_ms=500),
                              ntp_clock=NtpClock(0), now_ns=0)
    now = 10 * MS
    for seq in range(100, 110):
        receiver.receive_datagram("a", _rtp(seq), now)
        now += 5 * MS
    return receiver, now


def test_split_halves_are_joined_only_when_marked_whole_and_within_the_payload_limit() -> None:
    receiver, now = _anchored_receiver(ReceiverSettings(latency_ms=500, max_payload_bytes=1400))
    a, b = b"\x47" * 564, b"\x47" * 752
    # Unmarked halves with one timestamp (another sender's habit): left as they came.
    receiver.receive_datagram("a", _rtp(110, timestamp=7, payload=a), now)
    receiver.receive_datagram("a", _rtp(111, timestamp=7, payload=b), now)
    # Marked, but the next packet has another timestamp: not its second half.
    receiver.receive_datagram("a", _rtp(112, timestamp=8, payload=a, marker=True), now)
    receiver.receive_datagram("a", _rtp(113, timestamp=9, payload=b), now)
    # Marked, but together larger than max_payload_bytes.
    receiver.receive_datagram("a", _rtp(114, timestamp=10, payload=b, marker=True), now)
    receiver.receive_datagram("a", _rtp(115, timestamp=10, payload=b), now)
    # Marked and the second half arrives first, the first half as a retransmission.
    receiver.receive_datagram("a", _rtp(117, timestamp=11, payload=b), now)
    receiver.receive_datagram(
        "a", _rtp(116, timestamp=11, payload=a, marker=True, retransmission=True), now)
    out = _drain(receiver, now, now + 2 * S)
    assert out[10:] == [a, b, a, b, b, b, a + b]
    assert receiver.counters.joined_splits == 1
    assert receiver.counters.output_bytes == sum(map(len, out))


def test_a_first_half_whose_second_half_is_missing_leaves_alone() -> None:
    receiver, now = _anchored_receiver()
    a, b = b"\x47" * 564, b"\x47" * 752
    receiver.receive_datagram("a", _rtp(110, timestamp=7, payload=a, marker=True), now)
    receiver.receive_datagram("a", _rtp(112, timestamp=8, payload=b), now)
    out = _drain(receiver, now, now + 2 * S)
    assert out[10:] == [a, b]
    assert receiver.counters.lost == 1
    assert receiver.counters.joined_splits == 0


def _drain(receiver: ReceiverEngine, now: int, until_ns: int) -> list[bytes]:
    out = receiver.pop_output()
    while now < until_ns:
        now += 50 * MS
        receiver.on_deadline(now)
        out += receiver.pop_output()
    return out


def test_the_sender_splits_a_datagram_into_a_pair_for_one_header() -> None:
    links = {"a": LinkModel(delay_ms=20, rate_bps=8e6, queue_packets=100)}
    sim = _sim(links)
    sent: list[bytes] = []
    sim.on_departure = lambda link_id, data, at_ns: sent.append(data)
    result = sim.run(2.0, packets_per_s=190)
    assert result.output == result.sent  # the halves are joined again
    counters = sim.sender.counters
    assert counters.capacity_probes >= 4
    assert counters.capacity_probe_bytes == 12 * counters.capacity_probes  # headers only
    rtp = [RtpPacket.parse(d) for d in sent if d[1] & 0x7F == 33]
    halves = [(a, b) for a, b in itertools.pairwise(rtp)
              if b.sequence_number == (a.sequence_number + 1) & 0xFFFF
              and b.timestamp == a.timestamp]
    assert len(halves) == counters.capacity_probes
    for first, second in halves:
        assert (len(first.payload), len(second.payload)) == (3 * 188, 4 * 188)
        assert not first.ssrc & 1 and not second.ssrc & 1
        assert first.marker and not second.marker  # the receiver joins them on the mark
    assert sim.receiver.counters.joined_splits == counters.capacity_probes
    assert sim.receiver.counters.probe_pairs >= counters.capacity_probes - 1


def test_a_datagram_that_is_not_ts_gets_a_copy_instead() -> None:
    links = {"a": LinkModel(delay_ms=20, rate_bps=8e6, queue_packets=100)}
    sim = _sim(links, capacity_probe_budget=0.05)  # copies cost: allow them room
    result = sim.run(2.0, packets_per_s=190, payload=lambda index: bytes(1316))
    assert result.output == result.sent
    counters = sim.sender.counters
    assert counters.capacity_probes >= 4
    assert counters.capacity_probe_bytes == 1316 * counters.capacity_probes  # copies


def test_pairs_replace_the_probe_guess_and_never_fall_below_recent_delivery() -> None:
    estimator = CapacityEstimator()
    now = 0
    for _ in range(5):  # 2 Mbit/s delivered, nothing held back: a lower bound only
        now += 100 * MS
        estimator.on_receive_report(25_000, 100 * MS, now, sent_bytes=25_000)
    assert estimator.capacity_bps(now) == 2e6 * 1.25
    for rate in (6.1e6, 5.9e6, 6.0e6):
        estimator.on_dispersion(rate, now)
    assert estimator.capacity_bps(now) == 6.0e6  # the median
    assert estimator.measured(now)
    # Pairs measure what a full link delivers too, so being full does not overrule them.
    now += 100 * MS
    estimator.on_receive_report(25_000, 100 * MS, now, sent_bytes=40_000)
    assert estimator.saturated_recently(now)
    assert estimator.capacity_bps(now) == 6.0e6
    # Pairs below what the link delivered within their window are short of the truth.
    now += 100 * MS
    estimator.on_receive_report(100_000, 100 * MS, now, sent_bytes=100_000)  # 8 Mbit/s
    assert estimator.capacity_bps(now) == 8e6
    # Within a window (0.8 s) both move on: 7 Mbit/s delivered at most, pairs say 5.
    for _ in range(10):
        now += 100 * MS
        estimator.on_receive_report(87_500, 100 * MS, now, sent_bytes=87_500)
    estimator.on_dispersion(5.0e6, now)
    assert estimator.capacity_bps(now) == 7e6
    # Without pairs, the delivery window (5 s) speaks again: its maximum, less the
    # drain margin of a link that was full within it.
    assert estimator.dispersion_bps(now + 900 * MS) is None
    assert estimator.capacity_bps(now + 900 * MS) == 8e6 * 0.9


def _ten_percent_missing(*, nacked: bool) -> LinkEstimator:
    """1000-byte sends every ms for 3 s; each 100 ms report is 10 % short, and with
    ``nacked`` the peer NACKed those packets."""
    link = LinkEstimator()
    now = seq = 0
    for step in range(1, 31):
        for _ in range(100):
            now += MS
            link.on_sent(1000, now)
        link.on_rtt_sample(20.0, now)
        for _ in range(10 if nacked else 0):
            seq += 1
            link.on_lost(seq, now)
        if step > 1:
            link.on_receive_report(90_000, 100 * MS, now)
    return link


def test_a_lossy_link_is_not_mistaken_for_a_full_one() -> None:
    end = 30 * 100 * MS
    # The NACKs for what is missing arrive: delivered + lost = sent, so not full.
    assert not _ten_percent_missing(nacked=True).capacity.saturated_recently(end)
    # The same 10 % missing with no NACK for it: the link held it back, so it is full.
    assert _ten_percent_missing(nacked=False).capacity.saturated_recently(end)


def _sim(links: dict[str, LinkModel], **sender: object) -> PairSimulation:
    return PairSimulation(
        links, RoundRobin(),
        sender=SenderSettings(latency_ms=400, **sender),  # type: ignore[arg-type]
        receiver=ReceiverSettings(latency_ms=400),
        seed=3,
    )


def test_pairs_find_the_rate_of_links_the_stream_does_not_fill() -> None:
    # 2 Mbit/s over 8 and 3 Mbit/s links: neither is ever full, so only pairs can tell.
    links = {"a": LinkModel(delay_ms=20, rate_bps=8e6, queue_packets=100),
             "b": LinkModel(delay_ms=35, rate_bps=3e6, queue_packets=100)}
    sim = _sim(links)
    estimates: dict[str, float | None] = {}

    def look(sim: PairSimulation, now_ns: int) -> None:
        if not estimates and now_ns - sim_start >= 5 * S:
            now = sim.sender_now(now_ns)
            for link_id, link in sim.sender.links.items():
                estimates[link_id] = link.estimator.capacity.capacity_bps(now)

    sim_start = sim.now_ns
    result = sim.run(6.0, packets_per_s=190, on_time=look)
    assert result.output == result.sent
    for link_id, truth in (("a", 8e6), ("b", 3e6)):
        estimate = estimates[link_id]
        assert estimate is not None and abs(estimate - truth) / truth < 0.05, (link_id, estimate)
    counters = sim.sender.counters
    assert counters.capacity_probes >= 4
    # Within the budget: at most half a percent of what was sent.
    assert counters.capacity_probe_bytes <= 0.005 * counters.bytes_sent
    assert sim.receiver.counters.probe_pairs >= counters.capacity_probes - 2


def test_pairs_can_be_switched_off() -> None:
    links = {"a": LinkModel(delay_ms=20, rate_bps=8e6), "b": LinkModel(delay_ms=35)}
    sim = _sim(links, capacity_probe_interval_ms=0)
    sim.run(3.0, packets_per_s=190)
    assert sim.sender.counters.capacity_probes == 0
    assert sim.receiver.counters.probe_pairs == 0
