"""RTCP APP packets (PT 204): the RIST messages and ristbond's per-link report.

An APP packet is header + SSRC + 4-character name + data; the header's 5-bit count
field is the subtype. TR-06-1 names its messages "RIST":

* subtype 0: range NACK, records of (start seq 16 bits, count of *extra* seqs 16 bits)
  -- librist's default NACK form;
* subtype 1: sequence-number extension, the upper 16 bits of a 32-bit seq (librist
  0.2.7 does not send it in simple profile);
* subtype 2/3: echo request/response for RTT; 64-bit NTP timestamp + 32-bit processing
  delay, and the responder copies the request's timestamp.

ristbond adds "RBLR" (:class:`LinkReceiverReport`). RFC 3550 says to ignore APP names
one does not know, and librist and GStreamer do, so it is safe to send to foreign peers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Final

from ristbond_core.wire.errors import BadLength, BadPacket, BadVersion, Truncated
from ristbond_core.wire.rtcp import PT_APP, RtcpPacket
from ristbond_core.wire.seq import range_nack_seqs

RIST_APP_NAME: Final = b"RIST"
RISTBOND_APP_NAME: Final = b"RBLR"

SUBTYPE_RANGE_NACK: Final = 0
SUBTYPE_SEQ_EXTENSION: Final = 1
SUBTYPE_ECHO_REQUEST: Final = 2
SUBTYPE_ECHO_RESPONSE: Final = 3
SUBTYPE_LINK_REPORT: Final = 0

_APP_HEAD: Final = struct.Struct(">I4s")
_ECHO: Final = struct.Struct(">QI")
_SEQ_EXT: Final = struct.Struct(">HH")


def _pack(fmt: struct.Struct, *values: int | bytes) -> bytes:
    try:
        return fmt.pack(*values)
    except struct.error as exc:
        raise ValueError(f"APP field out of range: {exc}") from None


class RistApp(RtcpPacket):
    """Base of the APP packets we decode: fixed name and subtype, ``ssrc`` first."""

    __slots__ = ()
    PACKET_TYPE: ClassVar[int] = PT_APP
    NAME: ClassVar[bytes]
    SUBTYPE: ClassVar[int]

    ssrc: int

    def count_field(self) -> int:
        return self.SUBTYPE

    def app_data(self) -> bytes:
        """The bytes after the name."""
        raise NotImplementedError

    def body(self) -> bytes:
        data = self.app_data()
        if len(data) % 4:
            raise ValueError("APP data must be a multiple of 4 bytes")
        return _pack(_APP_HEAD, self.ssrc, self.NAME) + data

    @classmethod
    def from_app(cls, ssrc: int, data: bytes) -> RistApp:
        """Decode the data after the name (name and subtype already checked)."""
        raise NotImplementedError

    @classmethod
    def from_body(cls, count: int, packet_type: int, body: bytes) -> RtcpPacket:
        if len(body) < _APP_HEAD.size:
            raise Truncated(f"APP body of {len(body)} bytes lacks SSRC and name")
        ssrc, name = _APP_HEAD.unpack_from(body)
        if name != cls.NAME or count != cls.SUBTYPE:
            raise BadPacket(f"APP {name!r}/{count} is not {cls.NAME!r}/{cls.SUBTYPE}")
        return cls.from_app(ssrc, body[_APP_HEAD.size :])


@dataclass(frozen=True, slots=True)
class AppPacket(RtcpPacket):
    """An APP packet with a name/subtype we do not decode, kept raw (RFC 3550 6.7)."""

    subtype: int
    ssrc: int
    name: bytes
    data: bytes = b""

    PACKET_TYPE: ClassVar[int] = PT_APP

    def count_field(self) -> int:
        return self.subtype

    def body(self) -> bytes:
        if len(self.name) != 4:
            raise ValueError(f"APP name must be 4 bytes, got {self.name!r}")
        if len(self.data) % 4:
            raise ValueError("APP data must be a multiple of 4 bytes")
        return _pack(_APP_HEAD, self.ssrc, self.name) + self.data

    @classmethod
    def from_body(cls, count: int, packet_type: int, body: bytes) -> AppPacket:
        if len(body) < _APP_HEAD.size:
            raise Truncated(f"APP body of {len(body)} bytes lacks SSRC and name")
        ssrc, name = _APP_HEAD.unpack_from(body)
        return cls(count, ssrc, name, body[_APP_HEAD.size :])


@dataclass(frozen=True, slots=True)
class RistRangeNack(RistApp):
    """RIST range NACK: ``records`` are ``(start, extra)``; each asks for ``extra + 1``
    packets from ``start`` (wrapping at 65535). ``ssrc`` is the flow's SSRC: librist's
    receiver reuses the sender's SSRC in all its RTCP."""

    ssrc: int
    records: tuple[tuple[int, int], ...]

    NAME: ClassVar[bytes] = RIST_APP_NAME
    SUBTYPE: ClassVar[int] = SUBTYPE_RANGE_NACK

    def lost_sequence_numbers(self) -> list[int]:
        """The 16-bit sequence numbers asked for, each once (bounded work)."""
        return range_nack_seqs(self.records)

    def app_data(self) -> bytes:
        flat = [v for record in self.records for v in record]
        try:
            return struct.pack(f">{len(flat)}H", *flat)
        except struct.error as exc:
            raise ValueError(f"range NACK record out of range: {exc}") from None

    @classmethod
    def from_app(cls, ssrc: int, data: bytes) -> RistRangeNack:
        if len(data) % 4:
            raise BadLength("range NACK data is not a whole number of records")
        flat = struct.unpack(f">{len(data) // 2}H", data)
        return cls(ssrc, tuple(zip(flat[0::2], flat[1::2], strict=True)))


@dataclass(frozen=True, slots=True)
class RistSeqExtension(RistApp):
    """RIST sequence-number extension: the upper 16 bits of the 32-bit sequence number
    the following NACK records refer to. The second 16 bits are reserved (librist: 0)."""

    ssrc: int
    seq_msb: int
    reserved: int = 0

    NAME: ClassVar[bytes] = RIST_APP_NAME
    SUBTYPE: ClassVar[int] = SUBTYPE_SEQ_EXTENSION

    def app_data(self) -> bytes:
        return _pack(_SEQ_EXT, self.seq_msb, self.reserved)

    @classmethod
    def from_app(cls, ssrc: int, data: bytes) -> RistSeqExtension:
        if len(data) < _SEQ_EXT.size:
            raise Truncated("sequence extension lacks its 16-bit MSB field")
        msb, reserved = _SEQ_EXT.unpack_from(data)
        return cls(ssrc, msb, reserved)


@dataclass(frozen=True, slots=True)
class RistEchoRequest(RistApp):
    """RIST echo request: the sender's NTP time; the peer echoes it back for RTT.

    librist 0.2.7 takes this timestamp from a monotonic clock (it reads as 1970 plus
    uptime), not the wall clock, and its receiver sometimes leaves junk in
    ``processing_delay_us``; only the requester interprets the value, so neither matters.
    """

    ssrc: int
    ntp_timestamp: int
    processing_delay_us: int = 0

    NAME: ClassVar[bytes] = RIST_APP_NAME
    SUBTYPE: ClassVar[int] = SUBTYPE_ECHO_REQUEST

    def app_data(self) -> bytes:
        return _pack(_ECHO, self.ntp_timestamp, self.processing_delay_us)

    @classmethod
    def from_app(cls, ssrc: int, data: bytes) -> RistEchoRequest:
        if len(data) < _ECHO.size:
            raise Truncated(f"echo request data of {len(data)} bytes, need 12")
        ntp, delay = _ECHO.unpack_from(data)
        return cls(ssrc, ntp, delay)


@dataclass(frozen=True, slots=True)
class RistEchoResponse(RistApp):
    """RIST echo response: the request's timestamp copied back, plus the time the
    responder held the request (TR-06-1: microseconds; librist sends 0)."""

    ssrc: int
    ntp_timestamp: int
    processing_delay_us: int = 0

    NAME: ClassVar[bytes] = RIST_APP_NAME
    SUBTYPE: ClassVar[int] = SUBTYPE_ECHO_RESPONSE

    def app_data(self) -> bytes:
        return _pack(_ECHO, self.ntp_timestamp, self.processing_delay_us)

    @classmethod
    def from_app(cls, ssrc: int, data: bytes) -> RistEchoResponse:
        if len(data) < _ECHO.size:
            raise Truncated(f"echo response data of {len(data)} bytes, need 12")
        ntp, delay = _ECHO.unpack_from(data)
        return cls(ssrc, ntp, delay)


# RBLR v1 body after SSRC and name, big-endian, 40 bytes:
#   version u8 | flags u8 | link_id u16 | report_seq u32 | interval_us u32
#   received_packets u64 | received_bytes u64 | highest_ext_seq u64
#   delay_gradient_us i32
# v2 appends 8 bytes:
#   dispersion_kbps u32 | dispersion_pairs u16 | reserved u16
# v3 appends 8 bytes:
#   late_originals u32 | reserved u32
_LINK_REPORT_V1: Final = struct.Struct(">BBHIIQQQi")
_LINK_REPORT_V2: Final = struct.Struct(">IHH")
_LINK_REPORT_V3: Final = struct.Struct(">II")
LINK_REPORT_VERSION: Final = 3
#: The oldest body version a reader accepts (its fields are the common prefix).
LINK_REPORT_MIN_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class LinkReceiverReport(RistApp):
    """ristbond's per-link receive report (APP "RBLR", subtype 0), one per link.

    Counters are cumulative since the link appeared, so a lost report loses nothing;
    the sender differences consecutive reports (``report_seq`` orders them and exposes
    lost or reordered reports). ``delay_gradient_us`` is the change in one-way delay
    over the interval (positive = queue building). ``ssrc`` is the flow's SSRC.

    Version 2 adds the link's bottleneck rate measured by packet pairs during the
    interval (``dispersion_kbps``, the median over ``dispersion_pairs`` pairs; 0 and 0
    when no pair completed): the one capacity measurement that does not need the link
    to be full. A version-1 body decodes with both at 0.

    Version 3 adds ``late_originals``: first transmissions that arrived on the link
    after the receiver had already NACKed them (cumulative, modulo 2**32). They were
    late, not lost; the sender charged the NACK to the link, and this lets it take the
    charge back instead of waiting a full RTO before trusting any NACK (which missed
    the losses NACKed sooner and made a link losing 5 % read about 3 %). Older bodies
    decode with 0.

    Versioning: later versions only append fields, so a reader decodes the fields it
    knows of any version >= 1 and keeps the rest in ``extra``.
    """

    ssrc: int
    link_id: int
    report_seq: int
    interval_us: int
    received_packets: int
    received_bytes: int
    highest_ext_seq: int
    delay_gradient_us: int
    flags: int = 0
    version: int = LINK_REPORT_VERSION
    extra: bytes = b""
    dispersion_kbps: int = 0
    dispersion_pairs: int = 0
    late_originals: int = 0

    NAME: ClassVar[bytes] = RISTBOND_APP_NAME
    SUBTYPE: ClassVar[int] = SUBTYPE_LINK_REPORT

    def app_data(self) -> bytes:
        if self.version < LINK_REPORT_MIN_VERSION:
            raise ValueError(f"link report version {self.version} < {LINK_REPORT_MIN_VERSION}")
        body = _pack(
            _LINK_REPORT_V1,
            self.version,
            self.flags,
            self.link_id,
            self.report_seq,
            self.interval_us,
            self.received_packets,
            self.received_bytes,
            self.highest_ext_seq,
            self.delay_gradient_us,
        )
        if self.version >= 2:
            body += _pack(_LINK_REPORT_V2, self.dispersion_kbps, self.dispersion_pairs, 0)
        if self.version >= 3:
            body += _pack(_LINK_REPORT_V3, self.late_originals, 0)
        return body + self.extra

    @classmethod
    def from_app(cls, ssrc: int, data: bytes) -> LinkReceiverReport:
        if not data:
            raise Truncated("link report has no body")
        if data[0] < LINK_REPORT_MIN_VERSION:
            raise BadVersion(f"link report version {data[0]} is not defined")
        if len(data) < _LINK_REPORT_V1.size:
            raise Truncated(f"link report body of {len(data)} bytes, v1 needs 40")
        (version, flags, link_id, report_seq, interval_us, packets, octets, highest, gradient) = (
            _LINK_REPORT_V1.unpack_from(data)
        )
        offset = _LINK_REPORT_V1.size
        dispersion_kbps = dispersion_pairs = 0
        if version >= 2:
            if len(data) < offset + _LINK_REPORT_V2.size:
                raise Truncated(f"link report body of {len(data)} bytes, v2 needs 48")
            dispersion_kbps, dispersion_pairs, _reserved = _LINK_REPORT_V2.unpack_from(
                data, offset
            )
            offset += _LINK_REPORT_V2.size
        late_originals = 0
        if version >= 3:
            if len(data) < offset + _LINK_REPORT_V3.size:
                raise Truncated(f"link report body of {len(data)} bytes, v3 needs 56")
            late_originals, _reserved = _LINK_REPORT_V3.unpack_from(data, offset)
            offset += _LINK_REPORT_V3.size
        return cls(
            ssrc,
            link_id,
            report_seq,
            interval_us,
            packets,
            octets,
            highest,
            gradient,
            flags,
            version,
            data[offset:],
            dispersion_kbps,
            dispersion_pairs,
            late_originals,
        )


#: (name, subtype) -> class, for ``parse_compound``'s APP dispatch.
APP_TYPES: Final[dict[tuple[bytes, int], type[RistApp]]] = {
    (cls.NAME, cls.SUBTYPE): cls
    for cls in (
        RistRangeNack,
        RistSeqExtension,
        RistEchoRequest,
        RistEchoResponse,
        LinkReceiverReport,
    )
}


def decode_app(count: int, body: bytes) -> RtcpPacket:
    """Decode an APP body into its class, or ``AppPacket`` for unknown names."""
    if len(body) < _APP_HEAD.size:
        raise Truncated(f"APP body of {len(body)} bytes lacks SSRC and name")
    cls = APP_TYPES.get((body[4:8], count))
    if cls is None:
        return AppPacket.from_body(count, PT_APP, body)
    return cls.from_body(count, PT_APP, body)
