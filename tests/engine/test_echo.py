"""Echo responses say how long their request waited, so RTTs leave the wait out.

An echo request is answered in the link's next RTCP compound. The receiver holds it
until it has taken up a flow (its RTCP carries the flow's SSRC); a driver that batches
its wake-ups holds it a few milliseconds. Both used to count as network delay: the
first RTT samples of a live stream read about 0.5 s on links of 35-130 ms.
"""

from __future__ import annotations

import random

from ristbond_core.engine.common import NS_PER_MS
from ristbond_core.engine.receiver import ReceiverEngine, ReceiverSettings
from ristbond_core.engine.sender import SenderEngine, SenderSettings
from ristbond_core.wire import (
    NtpClock,
    ReceiverReport,
    RistEchoRequest,
    RistEchoResponse,
    RtpPacket,
    SenderReport,
    SourceDescription,
    build_compound,
    echo_rtt_ns,
    ns_to_ntp_short,
    ntp_middle32,
    parse_compound,
)
from tests.engine.test_engine_pair import RoundRobin

SSRC = 0x5249_5354


def _responses(datagrams: list[bytes]) -> list[RistEchoResponse]:
    return [packet for data in datagrams for packet in parse_compound(data)
            if isinstance(packet, RistEchoResponse)]


def test_the_receivers_report_block_says_how_long_it_held_the_last_sr() -> None:
    # The same for report blocks (RFC 3550 DLSR), which peers without echo requests use.
    receiver = ReceiverEngine(ReceiverSettings(latency_ms=500), ntp_clock=NtpClock(0),
                              now_ns=0)
    sr_ntp = (7 << 32) | 0x8000_0000
    hello = build_compound([SenderReport(SSRC, sr_ntp, 0),
                            SourceDescription.with_cname(SSRC, "peer")])
    receiver.receive_datagram("a", hello, 1 * NS_PER_MS)
    now = 1 * NS_PER_MS
    blocks = []
    while not blocks and now < 2_000 * NS_PER_MS:
        now += 10 * NS_PER_MS
        receiver.receive_datagram("a", bytes(RtpPacket(now // NS_PER_MS, now // 11_111, SSRC,
                                                       bytes(188))), now)
        receiver.on_deadline(now)
        blocks = [block for out in receiver.datagrams_to_send(now)
                  for packet in parse_compound(out.data) if isinstance(packet, ReceiverReport)
                  for block in packet.reports]
    assert len(blocks) == 1
    assert blocks[0].last_sr == ntp_middle32(sr_ntp)
    assert blocks[0].delay_since_last_sr == ns_to_ntp_short(now - 1 * NS_PER_MS)
    assert blocks[0].delay_since_last_sr > 0


def test_the_receiver_reports_how_long_it_held_an_echo_request() -> None:
    receiver = ReceiverEngine(ReceiverSettings(latency_ms=500), ntp_clock=NtpClock(0),
                              now_ns=0)
    request_ntp = 0x1234_5678_9ABC_DEF0
    hello = build_compound([SenderReport(SSRC, 1 << 32, 0),
                            SourceDescription.with_cname(SSRC, "peer"),
                            RistEchoRequest(SSRC, request_ntp)])
    receiver.receive_datagram("a", hello, 1 * NS_PER_MS)
    now = 1 * NS_PER_MS
    for seq in range(100, 140):  # the flow is taken up some time later
        now += 10 * NS_PER_MS
        receiver.receive_datagram("a", bytes(RtpPacket(seq, seq * 900, SSRC, bytes(188))), now)
    answered: list[RistEchoResponse] = []
    while not answered and now < 2_000 * NS_PER_MS:
        now += 5 * NS_PER_MS
        receiver.on_deadline(now)
        answered = _responses([out.data for out in receiver.datagrams_to_send(now)])
    assert len(answered) == 1
    response = answered[0]
    assert response.ntp_timestamp == request_ntp
    assert response.processing_delay_us == (now - 1 * NS_PER_MS) // 1000
    assert response.processing_delay_us > 100_000  # held until the flow was taken up


def test_the_sender_reports_how_long_it_held_an_echo_request_and_the_rtt_excludes_it() -> None:
    sender = SenderEngine(SenderSettings(), RoundRobin(), ntp_clock=NtpClock(0), now_ns=0,
                          rng=random.Random(1))
    sender.add_link("a", 0)
    sender.datagrams_to_send(0)
    peer_clock = NtpClock(0)
    sent_at = 10 * NS_PER_MS
    request = build_compound([ReceiverReport(SSRC), SourceDescription.with_cname(SSRC, "rx"),
                              RistEchoRequest(SSRC, peer_clock.ntp_from_monotonic(sent_at))])
    one_way = 20 * NS_PER_MS
    sender.receive_datagram("a", request, sent_at + one_way)
    answered_at = sent_at + one_way + 7 * NS_PER_MS  # the next wake-up
    sender.on_deadline(answered_at)
    [response] = _responses([out.data for out in sender.datagrams_to_send(answered_at)])
    assert response.processing_delay_us == 7_000
    back_at = answered_at + one_way
    rtt = echo_rtt_ns(peer_clock.ntp_from_monotonic(back_at), response.ntp_timestamp,
                      response.processing_delay_us)
    assert abs(rtt - 2 * one_way) < 1_000  # NTP rounding, well under a microsecond each
