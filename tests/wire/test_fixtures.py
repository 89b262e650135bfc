"""Golden datagrams captured from real peers (librist 0.2.7, GStreamer 1.22).

How they were captured: ``tests/fixtures/wire/README.md``. Every captured datagram
must parse, re-encode byte for byte, and carry the fields the peers are known to send.
"""

from __future__ import annotations

import pytest

from ristbond_core.wire import (
    DatagramKind,
    ExtendedReport,
    GenericNack,
    Goodbye,
    ReceiverReport,
    RistEchoRequest,
    RistEchoResponse,
    RistRangeNack,
    RtcpPacket,
    RtpPacket,
    SenderReport,
    SourceDescription,
    build_compound,
    classify_datagram,
    parse_compound,
)

from .captures import TO_RECEIVER, TO_SENDER, Datagram, load_capture

TS_PACKET = 188


@pytest.fixture(scope="module")
def librist() -> list[Datagram]:
    return load_capture("librist_simple")


@pytest.fixture(scope="module")
def gstreamer() -> list[Datagram]:
    return load_capture("gstreamer_simple")


def _compounds(capture: list[Datagram], direction: int) -> list[list[RtcpPacket]]:
    return [parse_compound(d.data) for d in capture if d.is_rtcp_port and d.direction == direction]


def _rtp(capture: list[Datagram]) -> list[RtpPacket]:
    return [RtpPacket.parse(d.data) for d in capture if not d.is_rtcp_port]


def _kinds(compound: list[RtcpPacket]) -> list[type]:
    return [type(p) for p in compound]


@pytest.mark.parametrize("name", ["librist_simple", "gstreamer_simple"])
def test_every_captured_datagram_parses_and_reencodes_exactly(name: str) -> None:
    for datagram in load_capture(name):
        kind = classify_datagram(datagram.data)
        assert (kind is DatagramKind.RTCP) == datagram.is_rtcp_port
        if kind is DatagramKind.RTCP:
            assert build_compound(parse_compound(datagram.data)) == datagram.data
        else:
            assert bytes(RtpPacket.parse(datagram.data)) == datagram.data


# --- librist ristsender -> ristreceiver, simple profile --------------------------------


def _librist_flow(librist: list[Datagram]) -> int:
    return _rtp(librist)[0].flow_id


def test_librist_rtp_is_pt33_mpeg_ts_with_an_even_ssrc(librist: list[Datagram]) -> None:
    packets = [p for p in _rtp(librist) if not p.is_retransmission]
    assert packets
    for packet in packets:
        assert packet.payload_type == 33
        assert packet.ssrc % 2 == 0
        assert len(packet.payload) == 7 * TS_PACKET
        assert all(packet.payload[i] == 0x47 for i in range(0, 1316, TS_PACKET))
    assert packets[0].sequence_number == 1  # librist starts at 1


def test_librist_sender_rtcp_is_sr_sdes_echo_request(librist: list[Datagram]) -> None:
    flow = _librist_flow(librist)
    compounds = [
        c
        for c in _compounds(librist, TO_RECEIVER)
        if _kinds(c) == [SenderReport, SourceDescription, RistEchoRequest]
    ]
    assert len(compounds) > 10
    sr, sdes, echo = compounds[0]
    assert isinstance(sr, SenderReport) and isinstance(sdes, SourceDescription)
    assert isinstance(echo, RistEchoRequest)
    assert sr.ssrc == flow == echo.ssrc
    assert (sr.packet_count, sr.octet_count) == (0, 0)  # librist leaves them at 0
    assert sr.reports == ()
    assert sdes.chunks[0].ssrc == flow
    assert sdes.cname


def test_librist_receiver_reuses_the_sender_ssrc(librist: list[Datagram]) -> None:
    flow = _librist_flow(librist)
    for compound in _compounds(librist, TO_SENDER):
        rr = compound[0]
        assert isinstance(rr, ReceiverReport)
        assert rr.ssrc == flow


def test_librist_first_receiver_rtcp_carries_xr_rrtr(librist: list[Datagram]) -> None:
    with_xr = [c for c in _compounds(librist, TO_SENDER) if ExtendedReport in _kinds(c)]
    assert len(with_xr) == 1
    compound = with_xr[0]
    assert _kinds(compound) == [ReceiverReport, SourceDescription, ExtendedReport, RistEchoRequest]
    xr = compound[2]
    assert isinstance(xr, ExtendedReport)
    assert [b.block_type for b in xr.blocks] == [4]
    assert xr.blocks[0].rrtr_ntp_timestamp is not None
    rr = compound[0]
    assert isinstance(rr, ReceiverReport) and len(rr.reports) == 1


def test_librist_echo_responses_copy_request_timestamps(librist: list[Datagram]) -> None:
    requests = {
        p.ntp_timestamp
        for c in _compounds(librist, TO_RECEIVER)
        for p in c
        if isinstance(p, RistEchoRequest)
    }
    responses = [
        p for c in _compounds(librist, TO_SENDER) for p in c if isinstance(p, RistEchoResponse)
    ]
    assert len(responses) > 10
    assert all(r.ntp_timestamp in requests for r in responses)
    answered = [c for c in _compounds(librist, TO_SENDER) if RistEchoResponse in _kinds(c)]
    rr = answered[0][0]
    assert isinstance(rr, ReceiverReport) and rr.reports == ()


def test_librist_range_nacks_are_answered_by_retransmissions(
    librist: list[Datagram],
) -> None:
    nacks = [p for c in _compounds(librist, TO_SENDER) for p in c if isinstance(p, RistRangeNack)]
    assert len(nacks) > 50
    compound = next(c for c in _compounds(librist, TO_SENDER) if RistRangeNack in _kinds(c))
    assert _kinds(compound) == [ReceiverReport, SourceDescription, RistRangeNack]
    asked = {s for n in nacks for s in n.lost_sequence_numbers()}
    flow = _librist_flow(librist)
    repairs = [p for p in _rtp(librist) if p.is_retransmission]
    assert repairs
    for repair in repairs:
        assert repair.ssrc == flow | 1
        assert repair.sequence_number in asked
        assert repair.payload[0] == 0x47
    assert nacks[0].records == ((6, 0),)


# --- GStreamer ristsink -> (dropping relay) -> ristsrc -------------------------------


def test_gstreamer_sender_reports_carry_real_counts(gstreamer: list[Datagram]) -> None:
    srs = [p for c in _compounds(gstreamer, TO_RECEIVER) for p in c if isinstance(p, SenderReport)]
    assert len(srs) > 10
    counts = [sr.packet_count for sr in srs]
    assert counts == sorted(counts) and counts[-1] > 100
    assert srs[-1].octet_count >= srs[-1].packet_count * 1316


def test_gstreamer_ends_with_bye(gstreamer: list[Datagram]) -> None:
    last = _compounds(gstreamer, TO_RECEIVER)[-1]
    assert _kinds(last) == [SenderReport, SourceDescription, Goodbye]
    sr, _, bye = last
    assert isinstance(bye, Goodbye) and isinstance(sr, SenderReport)
    assert bye.ssrcs == (sr.ssrc,)


def test_gstreamer_generic_nacks_name_the_dropped_packets(gstreamer: list[Datagram]) -> None:
    flow = _rtp(gstreamer)[0].flow_id
    nacks = [p for c in _compounds(gstreamer, TO_SENDER) for p in c if isinstance(p, GenericNack)]
    assert len(nacks) > 20
    assert any(len(n.records) > 1 for n in nacks)
    first_seq = _rtp(gstreamer)[0].sequence_number
    last_sr = _compounds(gstreamer, TO_RECEIVER)[-1][0]
    assert isinstance(last_sr, SenderReport)
    # ristsrc's jitterbuffer also NACKs the *next expected* packet once the stream
    # stops, a seq that was never sent: a sender must ignore NACKs for future seqs.
    never_sent = (first_seq + last_sr.packet_count) & 0xFFFF
    for nack in nacks:
        assert nack.media_ssrc == flow
        # The capture relay dropped seqs with seq % 50 in {10, 11, 12, 30}.
        assert all(
            s % 50 in {10, 11, 12, 30} or s == never_sent for s in nack.lost_sequence_numbers()
        )
    assert any(never_sent in n.lost_sequence_numbers() for n in nacks)
    assert any(blp == 0b11 for n in nacks for _, blp in n.records)


def test_gstreamer_receiver_reports_count_the_loss(gstreamer: list[Datagram]) -> None:
    flow = _rtp(gstreamer)[0].flow_id
    blocks = [
        b
        for c in _compounds(gstreamer, TO_SENDER)
        for p in c
        if isinstance(p, ReceiverReport)
        for b in p.reports
    ]
    assert blocks
    assert all(b.ssrc == flow for b in blocks)
    assert max(b.cumulative_lost for b in blocks) > 0


def test_gstreamer_retransmissions_use_ssrc_bit0(gstreamer: list[Datagram]) -> None:
    packets = _rtp(gstreamer)
    flow = packets[0].flow_id
    repairs = [p for p in packets if p.is_retransmission]
    assert repairs
    assert all(p.ssrc == flow | 1 and p.sequence_number % 50 in {10, 11, 12, 30} for p in repairs)
