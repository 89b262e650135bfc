"""RTP packet codec, flow/retransmission SSRC rules, and the hot-path header helpers."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ristbond_core.wire import (
    PT_MP2T,
    BadLength,
    BadVersion,
    NotRtp,
    RtpExtension,
    RtpPacket,
    Truncated,
    flow_id,
    is_retransmission,
    pack_rtp_header_into,
    plain_rtp_header,
    retransmission_ssrc,
    rtp_timestamp_diff_ns,
    rtp_timestamp_from_ns,
    unpack_rtp_header,
)

from .strategies import rtp_packets, u16, u32

TS_PAYLOAD = bytes([0x47]) + bytes(187)


@settings(max_examples=150)
@given(rtp_packets)
def test_rtp_packet_round_trips_exactly(packet: RtpPacket) -> None:
    data = bytes(packet)
    assert RtpPacket.parse(data) == packet
    assert bytes(RtpPacket.parse(data)) == data


@settings(max_examples=150)
@given(rtp_packets)
def test_unpack_header_agrees_with_full_parse(packet: RtpPacket) -> None:
    data = bytes(packet)
    pt, marker, seq, ts, ssrc, start, end = unpack_rtp_header(memoryview(data))
    assert (pt, marker, seq, ts, ssrc) == (
        packet.payload_type,
        packet.marker,
        packet.sequence_number,
        packet.timestamp,
        packet.ssrc,
    )
    assert data[start:end] == packet.payload


@settings(max_examples=100)
@given(seq=u16, ts=u32, ssrc=u32, marker=st.booleans(), payload=st.binary(max_size=32))
def test_pack_into_writes_the_same_header_as_the_packet_class(
    seq: int, ts: int, ssrc: int, marker: bool, payload: bytes
) -> None:
    buf = bytearray(4 + 12 + len(payload))
    buf[16:] = payload
    pack_rtp_header_into(buf, 4, seq, ts, ssrc, marker=marker)
    assert bytes(buf[4:]) == bytes(RtpPacket(seq, ts, ssrc, payload, marker=marker))


@settings(max_examples=100)
@given(seq=u16, ts=u32, ssrc=u32)
def test_the_plain_header_is_the_packet_classes_header(seq: int, ts: int, ssrc: int) -> None:
    assert plain_rtp_header(seq, ts, ssrc) == bytes(RtpPacket(seq, ts, ssrc, b""))


def test_default_packet_is_rist_simple_profile_mpeg_ts() -> None:
    data = bytes(RtpPacket(1, 90_000, 0x1234_5678, TS_PAYLOAD * 7))
    assert data[0] == 0x80  # V=2, no padding, extension or CSRC
    assert data[1] == PT_MP2T
    assert len(data) == 12 + 1316


def test_retransmission_keeps_seq_and_timestamp_and_sets_ssrc_bit0() -> None:
    original = RtpPacket(4242, 777, 0xABCD_0000, b"x")
    rtx = original.as_retransmission()
    assert (rtx.sequence_number, rtx.timestamp, rtx.payload) == (4242, 777, b"x")
    assert rtx.ssrc == 0xABCD_0001
    assert rtx.is_retransmission and not original.is_retransmission
    assert rtx.flow_id == original.flow_id == 0xABCD_0000


@given(u32)
def test_flow_helpers_agree(ssrc: int) -> None:
    assert flow_id(ssrc) % 2 == 0
    assert flow_id(retransmission_ssrc(ssrc)) == flow_id(ssrc)
    assert is_retransmission(retransmission_ssrc(ssrc))
    assert is_retransmission(ssrc) == (ssrc != flow_id(ssrc))


def test_csrcs_and_extension_are_skipped_to_find_the_payload() -> None:
    header = struct.pack(">BBHII", 0x80 | 0x10 | 2, 33, 1, 2, 4)
    csrcs = struct.pack(">II", 10, 11)
    ext = struct.pack(">HH", 0xBEDE, 1) + b"\x10\xff\x00\x00"
    packet = RtpPacket.parse(header + csrcs + ext + b"payload")
    assert packet.csrcs == (10, 11)
    assert packet.extension == RtpExtension(0xBEDE, b"\x10\xff\x00\x00")
    assert packet.payload == b"payload"


def test_padding_is_stripped_from_the_payload() -> None:
    data = struct.pack(">BBHII", 0xA0, 33, 1, 2, 4) + b"abc" + b"\x00\x00\x03"
    packet = RtpPacket.parse(data)
    assert packet.payload == b"abc"
    assert packet.padding == b"\x00\x00\x03"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param(b"", Truncated, id="empty"),
        pytest.param(b"\x80\x21" + bytes(9), Truncated, id="11-byte-header"),
        pytest.param(b"\x40\x21" + bytes(10), BadVersion, id="version-1"),
        pytest.param(b"\x80\xc8" + bytes(26), NotRtp, id="rtcp-sr"),
        pytest.param(b"\x83\x21" + bytes(18), Truncated, id="csrc-past-end"),
        pytest.param(
            b"\x90\x21" + bytes(10) + b"\x00\x00\x00\x05", BadLength, id="extension-past-end"
        ),
        pytest.param(b"\x90\x21" + bytes(12), Truncated, id="extension-header-missing"),
        pytest.param(b"\xa0\x21" + bytes(10) + b"\x00", BadLength, id="zero-padding"),
        pytest.param(b"\xa0\x21" + bytes(10) + b"\x09", BadLength, id="padding-too-long"),
    ],
)
def test_malformed_rtp_raises_the_specific_protocol_error(
    data: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        RtpPacket.parse(data)
    with pytest.raises(error):
        unpack_rtp_header(data)


@pytest.mark.parametrize(
    "packet",
    [
        RtpPacket(70_000, 0, 0, b""),
        RtpPacket(0, 1 << 32, 0, b""),
        RtpPacket(0, 0, 0, b"", payload_type=128),
        RtpPacket(0, 0, 0, b"", csrcs=tuple(range(16))),
        RtpPacket(0, 0, 0, b"", padding=b"\x00\x05"),
        RtpPacket(0, 0, 0, b"", extension=RtpExtension(0, b"abc")),
    ],
)
def test_out_of_range_fields_are_a_local_value_error(packet: RtpPacket) -> None:
    with pytest.raises(ValueError, match=r"."):
        bytes(packet)


def test_rtp_timestamps_tick_at_90_khz() -> None:
    assert rtp_timestamp_from_ns(1_000_000_000) == 90_000
    assert rtp_timestamp_from_ns(0, base=0xFFFF_FFFF) == 0xFFFF_FFFF


@given(st.integers(0, 1 << 62), u32, st.integers(-(10**12), 10**12))
def test_rtp_timestamp_difference_survives_the_32_bit_wrap(
    start_ns: int, base: int, delta_ns: int
) -> None:
    earlier = rtp_timestamp_from_ns(start_ns, base)
    later = rtp_timestamp_from_ns(start_ns + delta_ns, base)
    assert abs(rtp_timestamp_diff_ns(later, earlier) - delta_ns) < 2 * 11_112
