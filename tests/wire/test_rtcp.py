"""RTCP packet codecs and compound framing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ristbond_core.wire import (
    AppPacket,
    BadLength,
    BadPacket,
    BadVersion,
    DatagramKind,
    ExtendedReport,
    GenericNack,
    Goodbye,
    LinkReceiverReport,
    NotRtcp,
    ReceiverReport,
    ReportBlock,
    RistEchoRequest,
    RistEchoResponse,
    RistRangeNack,
    RistSeqExtension,
    RtcpPacket,
    RtpPacket,
    SdesChunk,
    SdesItem,
    SenderReport,
    SourceDescription,
    Truncated,
    UnknownRtcp,
    XrBlock,
    build_compound,
    classify_datagram,
    parse_compound,
)
from ristbond_core.wire.errors import BadVersion as BadVersionError

from .strategies import (
    app_packets,
    byes,
    echo_requests,
    echo_responses,
    generic_nacks,
    link_reports,
    range_nacks,
    receiver_reports,
    rtcp_packets,
    sdes,
    sender_reports,
    seq_extensions,
    unknown_rtcp,
    xrs,
)

SSRC = 0x1234_5678


@pytest.mark.parametrize(
    "strategy",
    [
        sender_reports,
        receiver_reports,
        sdes,
        byes,
        xrs,
        generic_nacks,
        range_nacks,
        seq_extensions,
        echo_requests,
        echo_responses,
        link_reports,
        app_packets,
    ],
    ids=[
        "sr",
        "rr",
        "sdes",
        "bye",
        "xr",
        "generic-nack",
        "range-nack",
        "seq-ext",
        "echo-request",
        "echo-response",
        "link-report",
        "app",
    ],
)
@settings(max_examples=60)
@given(data=st.data())
def test_each_packet_type_round_trips_through_its_own_parse(
    strategy: st.SearchStrategy[RtcpPacket], data: st.DataObject
) -> None:
    packet = data.draw(strategy)
    wire = bytes(packet)
    assert type(packet).parse(wire) == packet
    assert bytes(type(packet).parse(wire)) == wire


@settings(max_examples=60)
@given(unknown_rtcp)
def test_unknown_packets_round_trip_raw(packet: UnknownRtcp) -> None:
    assert UnknownRtcp.parse(bytes(packet)) == packet
    assert parse_compound(bytes(packet)) == [packet]


@settings(max_examples=150)
@given(st.lists(rtcp_packets, min_size=1, max_size=6))
def test_compound_round_trips_in_order(packets: list[RtcpPacket]) -> None:
    wire = build_compound(packets)
    assert parse_compound(wire) == packets
    assert build_compound(parse_compound(wire)) == wire
    assert classify_datagram(wire) is DatagramKind.RTCP


def test_unknown_packet_type_inside_a_compound_is_kept_not_fatal() -> None:
    odd = UnknownRtcp(packet_type=210, count=3, payload=b"abcdefgh")
    wire = build_compound([ReceiverReport(SSRC), odd, SourceDescription.with_cname(SSRC, "a")])
    kinds = [type(p) for p in parse_compound(wire)]
    assert kinds == [ReceiverReport, UnknownRtcp, SourceDescription]


def test_length_running_past_the_datagram_is_bad_length() -> None:
    packets = [ReceiverReport(SSRC), SourceDescription.with_cname(SSRC, "x")]
    wire = bytearray(build_compound(packets))
    struct.pack_into(">H", wire, 10, 200)  # SDES length field
    with pytest.raises(BadLength):
        parse_compound(bytes(wire))


def test_stray_bytes_after_the_last_packet_are_truncated() -> None:
    with pytest.raises(Truncated):
        parse_compound(bytes(ReceiverReport(SSRC)) + b"\x80\xc9")


def test_wrong_version_in_a_later_packet_is_bad_version() -> None:
    wire = bytearray(build_compound([ReceiverReport(SSRC), ReceiverReport(SSRC)]))
    wire[8] = 0x40
    with pytest.raises(BadVersion):
        parse_compound(bytes(wire))


def test_rtp_is_not_rtcp() -> None:
    rtp = bytes(RtpPacket(1, 2, 4, b"ts"))
    assert classify_datagram(rtp) is DatagramKind.RTP
    with pytest.raises(NotRtcp):
        parse_compound(rtp)


@pytest.mark.parametrize("data", [b"", b"\x80"])
def test_classifier_needs_two_bytes(data: bytes) -> None:
    with pytest.raises(Truncated):
        classify_datagram(data)


def test_classifier_rejects_other_versions() -> None:
    with pytest.raises(BadVersionError):
        classify_datagram(b"\x00\xc8\x00\x00")


def test_padding_on_the_last_packet_is_stripped() -> None:
    body = struct.pack(">I", SSRC) + b"\x00\x00\x00\x04"
    wire = struct.pack(">BBH", 0xA0, 201, 2) + body
    assert parse_compound(wire) == [ReceiverReport(SSRC)]


def test_report_block_count_past_the_body_is_bad_length() -> None:
    wire = struct.pack(">BBHI", 0x82, 201, 7, SSRC) + bytes(24)
    with pytest.raises(BadLength):
        parse_compound(wire)


def test_report_block_fields_are_taken_as_they_come() -> None:
    # librist 0.2.7 sends a block whose "SSRC" is the next packet's header word.
    block = ReportBlock(0x81CA0007, 255, -1, 0xFFFF_FFFF, 7, 0x156B_AAF7, 0x15C4)
    rr = ReceiverReport(SSRC, (block,))
    assert ReceiverReport.parse(bytes(rr)).reports == (block,)


def test_sdes_keeps_unknown_items_and_finds_the_cname() -> None:
    chunk = SdesChunk(SSRC, (SdesItem(8, b"\x03abcxyz"), SdesItem(1, b"host@\xff")))
    packet = SourceDescription.parse(bytes(SourceDescription((chunk,))))
    assert packet.chunks[0].items[0] == SdesItem(8, b"\x03abcxyz")
    assert packet.cname == "host@\ufffd"


def test_sdes_chunk_without_terminator_is_truncated() -> None:
    wire = struct.pack(">BBHI", 0x81, 202, 2, SSRC) + b"\x01\x02ab"
    with pytest.raises(Truncated):
        SourceDescription.parse(wire)


def test_bye_reason_round_trips_and_may_be_absent() -> None:
    assert Goodbye.parse(bytes(Goodbye((SSRC,), b"eos"))).reason == b"eos"
    assert Goodbye.parse(bytes(Goodbye((SSRC,)))).reason is None


def test_generic_nack_other_fmt_is_not_a_generic_nack() -> None:
    wire = struct.pack(">BBHII", 0x83, 205, 2, 1, 2)
    assert parse_compound(wire) == [UnknownRtcp(205, 3, struct.pack(">II", 1, 2))]
    with pytest.raises(BadPacket):
        GenericNack.parse(wire)


def test_generic_nack_with_half_a_record_is_bad_length() -> None:
    # Padding (P bit) is the only way a body can end off a 32-bit boundary.
    wire = struct.pack(">BBHIIH", 0xA1, 205, 3, 1, 2, 5) + b"\x00\x02"
    with pytest.raises(BadLength):
        parse_compound(wire)


def test_generic_nack_without_records_is_empty() -> None:
    assert GenericNack.parse(struct.pack(">BBHII", 0x81, 205, 2, 1, 2)).records == ()


def test_rist_app_subtypes_dispatch_to_their_classes() -> None:
    packets = [
        RistRangeNack(SSRC, ((6, 0),)),
        RistSeqExtension(SSRC, 1),
        RistEchoRequest(SSRC, 1 << 40, 0),
        RistEchoResponse(SSRC, 1 << 40, 12),
        LinkReceiverReport(SSRC, 2, 7, 100_000, 10, 13_280, 65_546, -250),
    ]
    assert parse_compound(build_compound(packets)) == packets


def test_unknown_app_name_is_kept_raw() -> None:
    app = AppPacket(subtype=5, ssrc=SSRC, name=b"ABCD", data=b"1234")
    assert parse_compound(bytes(app)) == [app]


def test_rist_range_nack_with_partial_record_is_bad_length() -> None:
    wire = struct.pack(">BBHI4sH", 0xA0, 204, 3, SSRC, b"RIST", 6) + b"\x00\x02"
    with pytest.raises(BadLength):
        parse_compound(wire)


def test_echo_with_short_body_is_truncated() -> None:
    wire = struct.pack(">BBHI4sI", 0x82, 204, 3, SSRC, b"RIST", 1)
    with pytest.raises(Truncated):
        parse_compound(wire)


def test_link_report_layout_is_v1_fields_then_v2_dispersion_then_v3_late() -> None:
    report = LinkReceiverReport(
        SSRC,
        link_id=3,
        report_seq=9,
        interval_us=100_000,
        received_packets=1,
        received_bytes=2,
        highest_ext_seq=3,
        delay_gradient_us=-5,
        dispersion_kbps=5_800,
        dispersion_pairs=3,
        late_originals=17,
    )
    wire = bytes(report)
    assert len(wire) == 12 + 56
    assert wire[8:12] == b"RBLR"
    assert wire[12] == 3  # body version
    assert struct.unpack_from(">i", wire, 48)[0] == -5
    assert struct.unpack_from(">IHH", wire, 52) == (5_800, 3, 0)
    assert struct.unpack_from(">II", wire, 60) == (17, 0)
    assert LinkReceiverReport.parse(wire) == report


def test_v2_link_report_reads_with_no_late_originals() -> None:
    report = LinkReceiverReport(SSRC, 1, 2, 3, 4, 5, 6, 7, version=2, dispersion_kbps=8)
    wire = bytes(report)
    assert len(wire) == 12 + 48
    parsed = LinkReceiverReport.parse(wire)
    assert (parsed.version, parsed.dispersion_kbps, parsed.late_originals) == (2, 8, 0)


def test_v1_link_report_reads_with_no_dispersion() -> None:
    report = LinkReceiverReport(SSRC, 1, 2, 3, 4, 5, 6, 7, version=1)
    wire = bytes(report)
    assert len(wire) == 12 + 40
    parsed = LinkReceiverReport.parse(wire)
    assert (parsed.version, parsed.dispersion_kbps, parsed.dispersion_pairs) == (1, 0, 0)


def test_v2_link_report_without_its_dispersion_fields_is_truncated() -> None:
    wire = struct.pack(">BBHI4s", 0x80, 204, 12, SSRC, b"RBLR") + b"\x02" + bytes(39)
    with pytest.raises(Truncated):
        parse_compound(wire)


def test_v3_link_report_without_its_late_count_is_truncated() -> None:
    wire = struct.pack(">BBHI4s", 0x80, 204, 14, SSRC, b"RBLR") + b"\x03" + bytes(47)
    with pytest.raises(Truncated):
        parse_compound(wire)


def test_future_link_report_version_keeps_known_fields_and_extra() -> None:
    report = LinkReceiverReport(
        SSRC, 1, 2, 3, 4, 5, 6, 7, version=4, extra=b"more", dispersion_kbps=900,
        late_originals=5,
    )
    parsed = LinkReceiverReport.parse(bytes(report))
    assert (parsed.version, parsed.received_bytes, parsed.dispersion_kbps,
            parsed.late_originals, parsed.extra) == (4, 5, 900, 5, b"more")


def test_link_report_version_zero_is_bad_version() -> None:
    wire = struct.pack(">BBHI4s", 0x80, 204, 12, SSRC, b"RBLR") + bytes(40)
    with pytest.raises(BadVersion):
        parse_compound(wire)


def test_link_report_shorter_than_v1_is_truncated() -> None:
    wire = struct.pack(">BBHI4s", 0x80, 204, 3, SSRC, b"RBLR") + b"\x01\x00\x00\x00"
    with pytest.raises(Truncated):
        parse_compound(wire)


def test_single_packet_parse_rejects_a_compound_and_other_types() -> None:
    wire = build_compound([ReceiverReport(SSRC), ReceiverReport(SSRC)])
    with pytest.raises(BadPacket):
        ReceiverReport.parse(wire)
    with pytest.raises(NotRtcp):
        SenderReport.parse(bytes(ReceiverReport(SSRC)))


@pytest.mark.parametrize(
    "packet",
    [
        ReceiverReport(SSRC, tuple(ReportBlock(i) for i in range(32))),
        ReportBlock(1, cumulative_lost=1 << 23),
        AppPacket(0, SSRC, b"TOOLONG"),
        AppPacket(0, SSRC, b"ABCD", b"odd"),
        RistRangeNack(SSRC, ((70_000, 0),)),
        SourceDescription((SdesChunk(SSRC, (SdesItem(1, bytes(256)),)),)),
        Goodbye((SSRC,), bytes(256)),
        LinkReceiverReport(SSRC, 1, 2, 3, 4, 5, 6, 1 << 31),
        LinkReceiverReport(SSRC, 1, 2, 3, 4, 5, 6, 7, version=0),
        SenderReport(SSRC, 1 << 64, 0),
        SenderReport(SSRC, 0, 0, extension=b"abc"),
        ReceiverReport(1 << 32),
        ReportBlock(1, fraction_lost=256),
        SourceDescription((SdesChunk(SSRC, (SdesItem(0, b""),)),)),
        Goodbye((1 << 32,)),
        ExtendedReport(SSRC, (XrBlock(4, 0, b"odd"),)),
        GenericNack(SSRC, SSRC, ((1 << 16, 0),)),
        UnknownRtcp(256, 0, b""),
        UnknownRtcp(210, 32, b""),
        UnknownRtcp(210, 0, b"abc"),
    ],
)
def test_unencodable_values_are_a_local_value_error(packet: RtcpPacket | ReportBlock) -> None:
    with pytest.raises(ValueError, match=r"."):
        bytes(packet)


def test_rist_app_parse_of_a_short_body_is_truncated() -> None:
    with pytest.raises(Truncated):
        RistEchoRequest.parse(struct.pack(">BBHI", 0x82, 204, 1, SSRC))


def test_rist_app_parse_of_another_name_is_bad_packet() -> None:
    with pytest.raises(BadPacket):
        RistEchoRequest.parse(bytes(AppPacket(2, SSRC, b"ABCD", bytes(12))))


def test_junk_after_valid_packets_keeps_the_valid_packets() -> None:
    from ristbond_core.wire import (
        GenericNack,
        ProtocolError,
        ReceiverReport,
        build_compound,
        parse_compound_prefix,
    )

    valid = build_compound([ReceiverReport(0x1234), GenericNack(0x1234, 0x5678, ((10, 3),))])
    packets, tail = parse_compound_prefix(valid + bytes.fromhex("af810000"))
    assert [type(p) for p in packets] == [ReceiverReport, GenericNack]
    assert isinstance(tail, ProtocolError)
    assert parse_compound_prefix(valid)[1] is None
    # junk between packets is skipped; what follows it still counts
    middle, tail = parse_compound_prefix(
        build_compound([ReceiverReport(0x1234)]) + bytes.fromhex("af810000")
        + build_compound([GenericNack(0x1234, 0x5678, ((10, 3),))])
    )
    assert [type(p) for p in middle] == [ReceiverReport, GenericNack]
    assert isinstance(tail, ProtocolError)
    with pytest.raises(ProtocolError):
        parse_compound_prefix(bytes.fromhex("af810000"))  # nothing valid at all
