"""The sender keeps input datagrams intact, splitting only what cannot fit, at TS boundaries."""

from __future__ import annotations

import random

import pytest

from ristbond_core.engine.sender import SenderEngine, SenderSettings
from ristbond_core.wire import NtpClock, RtpPacket
from tests.engine.test_engine_pair import RoundRobin


def sent_payloads(payload: bytes, limit: int = 1460) -> list[bytes]:
    sender = SenderEngine(SenderSettings(payload_bytes=limit), RoundRobin(),
                          ntp_clock=NtpClock(0), now_ns=0, rng=random.Random(1))
    sender.add_link("a", 0)
    sender.datagrams_to_send(0)  # the link's first RTCP
    sender.send_payload(payload, 1_000_000)
    return [RtpPacket.parse(d.data).payload for d in sender.datagrams_to_send(1_000_000)]


@pytest.mark.parametrize("size", [1, 188, 1316, 1400, 1460])
def test_datagrams_that_fit_are_sent_unchanged(size: int) -> None:
    payload = bytes(range(256)) * 6
    assert sent_payloads(payload[:size]) == [payload[:size]]


def test_a_large_ts_datagram_is_split_at_ts_packet_boundaries() -> None:
    ts = b"".join(bytes([0x47, 0, i, 0x10]) + bytes(184) for i in range(21))  # 3948 bytes
    pieces = sent_payloads(ts)
    assert b"".join(pieces) == ts
    assert all(len(p) % 188 == 0 and len(p) <= 1460 for p in pieces)
    assert all(p[0] == 0x47 for p in pieces)


def test_consecutive_packets_share_one_sequence_space() -> None:
    sender = SenderEngine(SenderSettings(), RoundRobin(), ntp_clock=NtpClock(0), now_ns=0,
                          rng=random.Random(1))
    sender.add_link("a", 0)
    sender.add_link("b", 0)
    sender.datagrams_to_send(0)
    for i in range(6):
        sender.send_payload(bytes([i]) * 10, 1_000_000 + i)
    seqs = [RtpPacket.parse(d.data).sequence_number for d in sender.datagrams_to_send(2_000_000)]
    assert len(seqs) == 6
    assert [(s - seqs[0]) & 0xFFFF for s in seqs] == [0, 1, 2, 3, 4, 5]


def test_headerless_nack_entries_from_ristsrc_are_answered() -> None:
    """GStreamer's ristsrc sends NACK entries for seqs 0xA000-0xBFFF without their RTPFB
    header; the sender answers them like a generic NACK and does not count junk."""
    from ristbond_core.wire import ReceiverReport, SourceDescription, build_compound

    sender = SenderEngine(SenderSettings(latency_ms=1000), RoundRobin(),
                          ntp_clock=NtpClock(0), now_ns=0, rng=random.Random(1))
    sender._next_ext = 0xA100 + (1 << 16)  # start inside the range ristsrc mangles
    sender.add_link("a", 0)
    sender.add_link("b", 0)
    sender.datagrams_to_send(0)
    for i in range(8):
        sender.send_payload(bytes([i]) * 10, 1_000_000 + i)
    sender.datagrams_to_send(2_000_000)
    head = build_compound([ReceiverReport(7), SourceDescription.with_cname(7, "ristsrc")])
    bare = (0xA102).to_bytes(2, "big") + (0b1).to_bytes(2, "big")  # 0xA102 and 0xA103
    sender.receive_datagram("a", head + bare, 200_000_000)
    resent = [RtpPacket.parse(d.data) for d in sender.datagrams_to_send(200_000_000)
              if d.data[1] & 0x7F == 33]
    assert sorted(p.sequence_number for p in resent) == [0xA102, 0xA103]
    assert all(p.ssrc & 1 for p in resent)  # sent as retransmissions
    assert sender.counters.bare_nacks == 1
    assert sender.counters.malformed == 0
