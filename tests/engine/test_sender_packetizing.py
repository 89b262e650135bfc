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


def resent_for_bare_entries(first_seq: int, packets: int, entries: bytes) -> list[RtpPacket]:
    """Retransmissions a sender starting at ``first_seq`` sends for headerless entries."""
    from ristbond_core.wire import ReceiverReport, SourceDescription, build_compound

    sender = SenderEngine(SenderSettings(latency_ms=1000), RoundRobin(),
                          ntp_clock=NtpClock(0), now_ns=0, rng=random.Random(1))
    sender._next_ext = first_seq + (1 << 16)  # start where ristsrc mangles its NACKs
    sender.add_link("a", 0)
    sender.add_link("b", 0)
    sender.datagrams_to_send(0)
    for i in range(packets):
        sender.send_payload(bytes([i]) * 10, 1_000_000 + i)
    sender.datagrams_to_send(2_000_000)
    head = build_compound([ReceiverReport(7), SourceDescription.with_cname(7, "ristsrc")])
    sender.receive_datagram("a", head + entries, 200_000_000)
    assert sender.counters.bare_nacks == 1
    assert sender.counters.malformed == 0
    return [RtpPacket.parse(d.data) for d in sender.datagrams_to_send(200_000_000)
            if d.data[1] & 0x7F == 33]


def entry(pid: int, blp: int = 0) -> bytes:
    return pid.to_bytes(2, "big") + blp.to_bytes(2, "big")


def test_headerless_nack_entries_from_ristsrc_are_answered() -> None:
    """GStreamer's ristsrc sends NACK entries without their RTPFB header when the first
    lies in 0xA000-0xBFFF; the sender answers them like a generic NACK, not as junk."""
    resent = resent_for_bare_entries(0xA100, 8, entry(0xA102, 0b1))  # 0xA102 and 0xA103
    assert sorted(p.sequence_number for p in resent) == [0xA102, 0xA103]
    assert all(p.ssrc & 1 for p in resent)  # sent as retransmissions


def test_a_headerless_list_running_past_0xbfff_is_answered_whole() -> None:
    resent = resent_for_bare_entries(0xBFF0, 40, entry(0xBFF5) + entry(0xC004) + entry(0xC010))
    assert sorted(p.sequence_number for p in resent) == [0xBFF5, 0xC004, 0xC010]
