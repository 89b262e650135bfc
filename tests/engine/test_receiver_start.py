"""How the receiver takes up a new stream."""

from __future__ import annotations

from ristbond_core.engine.common import NS_PER_MS
from ristbond_core.engine.receiver import ReceiverEngine, ReceiverSettings
from ristbond_core.events import NackSent
from ristbond_core.wire import (
    NtpClock,
    RtpPacket,
    SenderReport,
    SourceDescription,
    build_compound,
)


def test_a_stream_whose_first_packet_arrives_second_starts_with_it() -> None:
    start = 1_000 * NS_PER_MS
    receiver = ReceiverEngine(ReceiverSettings(latency_ms=300),
                              ntp_clock=NtpClock.from_sample(0, 1_700_000_000 * 10**9),
                              now_ns=start)
    ssrc = 0x5249_5354
    # Seq 100 went on the slower link and lands after 101.
    order = [(101, "fast"), (100, "slow"), (102, "fast"), (103, "slow"), (104, "fast"),
             (105, "slow"), (106, "fast")]
    now = start
    for seq, link in order:
        now += NS_PER_MS
        data = bytes(RtpPacket(seq, seq * 3_000, ssrc, bytes([seq]) * 188))
        receiver.receive_datagram(link, data, now)
    out: list[bytes] = []
    for _ in range(200):
        now += 5 * NS_PER_MS
        receiver.on_deadline(now)
        out.extend(receiver.pop_output())
    assert [payload[0] for payload in out] == list(range(100, 107))
    assert receiver.stats(now)["flow"]["lost"] == 0


def test_a_packet_missing_below_the_first_arrivals_is_asked_for() -> None:
    """The first packets went over a slower link: 100 lands after 102-105 and 101 was
    lost on the way. Nothing has played out yet, so 101 is a gap like any other: it is
    NACKed, and its retransmission completes the stream's start."""
    start = 1_000 * NS_PER_MS
    receiver = ReceiverEngine(ReceiverSettings(latency_ms=500),
                              ntp_clock=NtpClock.from_sample(0, 1_700_000_000 * 10**9),
                              now_ns=start)
    ssrc = 0x5249_5354
    now = start

    def arrive(seq: int, link: str, delay_ms: int, *, retransmission: bool = False) -> None:
        # One packet per millisecond of media (90 ticks), sent at ``seq`` ms.
        nonlocal now
        now = max(now, start + (seq + delay_ms) * NS_PER_MS)
        data = bytes(RtpPacket(seq, seq * 90, ssrc | int(retransmission), bytes([seq]) * 188))
        receiver.receive_datagram(link, data, now)

    hello = build_compound([SenderReport(ssrc, 1 << 32, 0),
                            SourceDescription.with_cname(ssrc, "peer")])
    for link in ("fast", "slow"):  # each link a return path for NACKs
        receiver.receive_datagram(link, hello, now)
    for seq in (102, 103, 104, 105):
        arrive(seq, "fast", 10)
    arrive(100, "slow", 40)
    nacked: set[int] = set()
    for _ in range(60):  # 300 ms: past the reorder window, before 101's deadline
        now += 5 * NS_PER_MS
        receiver.on_deadline(now)
        receiver.datagrams_to_send(now)
        for event in receiver.drain_events():
            if isinstance(event, NackSent):  # extended sequence numbers
                nacked.update(ext & 0xFFFF for ext in range(event.first_seq,
                                                            event.first_seq + event.count))
        if 101 in nacked:
            break
    assert 101 in nacked
    arrive(101, "fast", 0, retransmission=True)
    out: list[bytes] = []
    for _ in range(200):
        now += 5 * NS_PER_MS
        receiver.on_deadline(now)
        out.extend(receiver.pop_output())
    assert [payload[0] for payload in out] == list(range(100, 106))
    assert receiver.stats(now)["flow"]["lost"] == 0
