"""Packet pairs: the sender times a link's bottleneck without filling it.

The sender puts a retransmission-flagged copy right behind an original; the receiver
times the two arrivals and reports the rate in its RBLR link report; the sender's
capacity estimate of a link that is not full follows it.
"""

from __future__ import annotations

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


def _rtp(seq: int, *, retransmission: bool = False) -> bytes:
    return bytes(RtpPacket(sequence_number=seq, timestamp=seq * 90,
                           ssrc=SSRC | int(retransmission), payload=PAYLOAD))


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


def test_pairs_replace_the_probe_guess_only_while_the_link_is_not_full() -> None:
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
    # Full now: what it delivers under load wins over the raw bottleneck rate...
    now += 100 * MS
    estimator.on_receive_report(25_000, 100 * MS, now, sent_bytes=40_000)
    assert estimator.full_now(now)
    assert estimator.capacity_bps(now) == 2e6 * 0.9
    # ... for a second; then fresh pairs speak again (the old ones have expired).
    now += 2100 * MS
    estimator.on_dispersion(5.0e6, now)
    assert not estimator.full_now(now)
    assert estimator.capacity_bps(now) == 5.0e6
    # Pairs older than the window are forgotten.
    assert estimator.dispersion_bps(now + 2100 * MS) is None


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
    assert _ten_percent_missing(nacked=False).capacity.full_now(end)


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
