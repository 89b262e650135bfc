"""Hypothesis strategies producing every wire packet type with in-range fields."""

from __future__ import annotations

from hypothesis import strategies as st

from ristbond_core.wire import (
    AppPacket,
    ExtendedReport,
    GenericNack,
    Goodbye,
    LinkReceiverReport,
    ReceiverReport,
    ReportBlock,
    RistEchoRequest,
    RistEchoResponse,
    RistRangeNack,
    RistSeqExtension,
    RtcpPacket,
    RtpExtension,
    RtpPacket,
    SdesChunk,
    SdesItem,
    SenderReport,
    SourceDescription,
    UnknownRtcp,
    XrBlock,
)
from ristbond_core.wire.app import APP_TYPES

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
u64 = st.integers(0, 0xFFFF_FFFF_FFFF_FFFF)
i32 = st.integers(-(1 << 31), (1 << 31) - 1)


def words(max_words: int = 6) -> st.SearchStrategy[bytes]:
    """Byte strings whose length is a multiple of 4."""
    return st.integers(0, max_words).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n))


def _padding(n: int) -> bytes:
    return b"" if n == 0 else bytes(n - 1) + bytes((n,))


# RFC 5761: payload types 64-95 are avoided because marker + PT would read as RTCP.
payload_types = st.one_of(st.integers(0, 63), st.integers(96, 127))

rtp_packets = st.builds(
    RtpPacket,
    sequence_number=u16,
    timestamp=u32,
    ssrc=u32,
    payload=st.binary(max_size=64),
    payload_type=payload_types,
    marker=st.booleans(),
    csrcs=st.lists(u32, max_size=15).map(tuple),
    extension=st.none() | st.builds(RtpExtension, profile=u16, data=words()),
    padding=st.integers(0, 255).map(_padding),
)

report_blocks = st.builds(
    ReportBlock,
    ssrc=u32,
    fraction_lost=u8,
    cumulative_lost=st.integers(-(1 << 23), (1 << 23) - 1),
    highest_sequence=u32,
    jitter=u32,
    last_sr=u32,
    delay_since_last_sr=u32,
)
block_lists = st.lists(report_blocks, max_size=4).map(tuple)

sender_reports = st.builds(
    SenderReport,
    ssrc=u32,
    ntp_timestamp=u64,
    rtp_timestamp=u32,
    packet_count=u32,
    octet_count=u32,
    reports=block_lists,
    extension=words(3),
)
receiver_reports = st.builds(ReceiverReport, ssrc=u32, reports=block_lists, extension=words(3))
sdes_items = st.builds(SdesItem, item_type=st.integers(1, 255), value=st.binary(max_size=40))
sdes = st.builds(
    SourceDescription,
    chunks=st.lists(
        st.builds(SdesChunk, ssrc=u32, items=st.lists(sdes_items, max_size=4).map(tuple)),
        max_size=4,
    ).map(tuple),
)
byes = st.builds(
    Goodbye, ssrcs=st.lists(u32, max_size=31).map(tuple), reason=st.none() | st.binary(max_size=255)
)
xrs = st.builds(
    ExtendedReport,
    ssrc=u32,
    blocks=st.lists(
        st.builds(XrBlock, block_type=u8, type_specific=u8, data=words(4)), max_size=3
    ).map(tuple),
)
# Types we leave raw: unassigned RTCP types in 192..223, and RTPFB FMTs other than 1.
unknown_rtcp = st.one_of(
    st.builds(
        UnknownRtcp,
        packet_type=st.sampled_from([192, 193, 199, 208, 210, 223]),
        count=st.integers(0, 31),
        payload=words(),
    ),
    st.builds(
        UnknownRtcp,
        packet_type=st.sampled_from([205, 206]),
        count=st.integers(2, 31),
        payload=words(),
    ),
)
records = st.lists(st.tuples(u16, u16), max_size=20).map(tuple)
generic_nacks = st.builds(GenericNack, sender_ssrc=u32, media_ssrc=u32, records=records)
range_nacks = st.builds(RistRangeNack, ssrc=u32, records=records)
seq_extensions = st.builds(RistSeqExtension, ssrc=u32, seq_msb=u16, reserved=u16)
echo_requests = st.builds(RistEchoRequest, ssrc=u32, ntp_timestamp=u64, processing_delay_us=u32)
echo_responses = st.builds(RistEchoResponse, ssrc=u32, ntp_timestamp=u64, processing_delay_us=u32)
_LINK_REPORT_V1_FIELDS = {
    "ssrc": u32,
    "link_id": u16,
    "report_seq": u32,
    "interval_us": u32,
    "received_packets": u64,
    "received_bytes": u64,
    "highest_ext_seq": u64,
    "delay_gradient_us": i32,
    "flags": u8,
    "extra": words(2),
}
link_reports = st.builds(
    LinkReceiverReport, version=st.just(1), **_LINK_REPORT_V1_FIELDS
) | st.builds(
    LinkReceiverReport,
    version=st.just(2),
    dispersion_kbps=u32,
    dispersion_pairs=u16,
    **_LINK_REPORT_V1_FIELDS,
) | st.builds(
    LinkReceiverReport,
    version=st.integers(3, 255),
    dispersion_kbps=u32,
    dispersion_pairs=u16,
    late_originals=u32,
    **_LINK_REPORT_V1_FIELDS,
)
app_packets = st.builds(
    AppPacket,
    subtype=st.integers(0, 31),
    ssrc=u32,
    name=st.binary(min_size=4, max_size=4),
    data=words(),
).filter(lambda p: (p.name, p.subtype) not in APP_TYPES)

rtcp_packets: st.SearchStrategy[RtcpPacket] = st.one_of(
    sender_reports,
    receiver_reports,
    sdes,
    byes,
    xrs,
    unknown_rtcp,
    generic_nacks,
    range_nacks,
    seq_extensions,
    echo_requests,
    echo_responses,
    link_reports,
    app_packets,
)
