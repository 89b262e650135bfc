"""How the receiver takes up a new stream."""

from __future__ import annotations

from ristbond_core.engine.common import NS_PER_MS
from ristbond_core.engine.receiver import ReceiverEngine, ReceiverSettings
from ristbond_core.wire import NtpClock, RtpPacket


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
