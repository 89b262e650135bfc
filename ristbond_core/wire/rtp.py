"""RTP data packets as RIST simple profile uses them (RFC 3550, VSF TR-06-1).

A RIST flow is one RTP stream: PT 33 (MPEG-TS), 90 kHz timestamps, and an even SSRC
that names the flow. A retransmission is the same packet (same seq and timestamp) sent
with SSRC|1, so the receiver can tell repairs from first transmissions without any
extra header. librist and GStreamer send no padding, extension or CSRCs, but RFC 3550
allows them and GStreamer's payloaders can add an extension, so the codec reads them
correctly instead of rejecting them.

Two speeds are offered: :class:`RtpPacket` (a frozen value, exact round trip) and the
hot-path pair :func:`pack_rtp_header_into` / :func:`unpack_rtp_header`, one
``struct`` call each.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import Final

from ristbond_core.wire._buffer import Buffer, as_bytes
from ristbond_core.wire.errors import BadLength, BadVersion, NotRtp, Truncated

RTP_VERSION: Final = 2
RTP_HEADER_SIZE: Final = 12
#: MPEG-TS over RTP (RFC 3551); what librist and GStreamer ``rtpmp2tpay`` use.
PT_MP2T: Final = 33
#: RTP clock rate of PT 33.
RTP_CLOCK_HZ: Final = 90_000

_HEADER: Final = struct.Struct(">BBHII")
_EXT_HEADER: Final = struct.Struct(">HH")
_WORD: Final = struct.Struct(">I")

_FIRST_BYTE_PLAIN: Final = RTP_VERSION << 6  # V=2, P=0, X=0, CC=0


def flow_id(ssrc: int) -> int:
    """The flow an SSRC belongs to: the even SSRC (retransmissions set bit 0)."""
    return ssrc & 0xFFFF_FFFE


def is_retransmission(ssrc: int) -> bool:
    """True if the SSRC marks a RIST retransmission (odd SSRC)."""
    return bool(ssrc & 1)


def retransmission_ssrc(ssrc: int) -> int:
    """The SSRC a retransmission of a packet from flow ``ssrc`` carries."""
    return ssrc | 1


def rtp_timestamp_from_ns(time_ns: int, base: int = 0) -> int:
    """The 32-bit 90 kHz RTP timestamp for ``time_ns`` (any epoch) plus a random ``base``."""
    return (base + time_ns * RTP_CLOCK_HZ // 1_000_000_000) & 0xFFFF_FFFF


def rtp_timestamp_diff_ns(later: int, earlier: int) -> int:
    """Signed ns between two 90 kHz RTP timestamps, wrap-aware (±6.6 hours)."""
    ticks = ((later - earlier + (1 << 31)) & 0xFFFF_FFFF) - (1 << 31)
    return ticks * 1_000_000_000 // RTP_CLOCK_HZ


def is_rtcp_payload_type(second_byte: int) -> bool:
    """RFC 5761 demux: a second byte in 192..223 is an RTCP packet type, not M+PT."""
    return 192 <= second_byte <= 223


@dataclass(frozen=True, slots=True)
class RtpExtension:
    """An RTP header extension (RFC 3550 5.3.1): 16-bit profile word and its data.

    ``data`` length is a multiple of 4, as the 16-bit length field counts 32-bit words.
    """

    profile: int
    data: bytes


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet; ``bytes(packet)`` reproduces the datagram exactly.

    ``padding`` holds the raw padding bytes (last byte = their count) so a padded
    packet round-trips; it is empty for every packet librist or GStreamer sends.
    """

    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes
    payload_type: int = PT_MP2T
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding: bytes = b""

    @property
    def flow_id(self) -> int:
        """The even SSRC naming this packet's flow."""
        return self.ssrc & 0xFFFF_FFFE

    @property
    def is_retransmission(self) -> bool:
        """True for a RIST retransmission (SSRC|1, original seq and timestamp)."""
        return bool(self.ssrc & 1)

    def as_retransmission(self) -> RtpPacket:
        """This packet as a retransmission: same everything, SSRC with bit 0 set."""
        return replace(self, ssrc=self.ssrc | 1)

    @classmethod
    def parse(cls, data: Buffer) -> RtpPacket:
        """Decode one RTP datagram; raise a ``ProtocolError`` subclass if malformed."""
        raw = as_bytes(data)
        if len(raw) < RTP_HEADER_SIZE:
            raise Truncated(f"RTP datagram of {len(raw)} bytes is shorter than its header")
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(raw)
        if b0 >> 6 != RTP_VERSION:
            raise BadVersion(f"RTP version {b0 >> 6}, expected 2")
        if is_rtcp_payload_type(b1):
            raise NotRtp(f"second byte {b1} is an RTCP packet type")
        if b0 & 0x3F == 0:  # the only shape librist/GStreamer send: no P, X, CC
            return cls(seq, ts, ssrc, raw[RTP_HEADER_SIZE:], b1 & 0x7F, bool(b1 & 0x80))
        offset, end = _payload_bounds(raw, b0)
        cc = b0 & 0x0F
        csrcs = struct.unpack_from(f">{cc}I", raw, RTP_HEADER_SIZE) if cc else ()
        extension = None
        if b0 & 0x10:
            ext_at = RTP_HEADER_SIZE + 4 * cc
            profile, words = _EXT_HEADER.unpack_from(raw, ext_at)
            extension = RtpExtension(profile, raw[ext_at + 4 : ext_at + 4 + 4 * words])
        return cls(
            seq,
            ts,
            ssrc,
            raw[offset:end],
            b1 & 0x7F,
            bool(b1 & 0x80),
            tuple(csrcs),
            extension,
            raw[end:],
        )

    def __bytes__(self) -> bytes:
        return self.to_bytes()

    def to_bytes(self) -> bytes:
        """Encode; ``ValueError`` if a field does not fit its wire width."""
        if not 0 <= self.payload_type <= 127:
            raise ValueError(f"payload type {self.payload_type} out of range 0..127")
        if len(self.csrcs) > 15:
            raise ValueError("at most 15 CSRCs fit in an RTP header")
        if self.padding and self.padding[-1] != len(self.padding):
            raise ValueError("the last padding byte must equal the padding length")
        b0 = _FIRST_BYTE_PLAIN | len(self.csrcs)
        if self.padding:
            b0 |= 0x20
        if self.extension is not None:
            b0 |= 0x10
        try:
            parts = [
                _HEADER.pack(
                    b0,
                    (0x80 if self.marker else 0) | self.payload_type,
                    self.sequence_number,
                    self.timestamp,
                    self.ssrc,
                ),
            ]
            if self.csrcs:
                parts.append(struct.pack(f">{len(self.csrcs)}I", *self.csrcs))
            if self.extension is not None:
                ext = self.extension
                if len(ext.data) % 4:
                    raise ValueError("RTP extension data must be a multiple of 4 bytes")
                parts.append(_EXT_HEADER.pack(ext.profile, len(ext.data) // 4))
                parts.append(ext.data)
        except struct.error as exc:
            raise ValueError(f"RTP field out of range: {exc}") from None
        parts.append(self.payload)
        parts.append(self.padding)
        return b"".join(parts)


def _payload_bounds(raw: bytes, b0: int) -> tuple[int, int]:
    """Payload start and end for a header with CSRCs, extension or padding."""
    offset = RTP_HEADER_SIZE + 4 * (b0 & 0x0F)
    if len(raw) < offset:
        raise Truncated(f"RTP header announces {b0 & 0x0F} CSRCs past the datagram end")
    if b0 & 0x10:
        if len(raw) < offset + 4:
            raise Truncated("RTP extension header past the datagram end")
        words = _EXT_HEADER.unpack_from(raw, offset)[1]
        offset += 4 + 4 * words
        if len(raw) < offset:
            raise BadLength(f"RTP extension of {words} words runs past the datagram end")
    end = len(raw)
    if b0 & 0x20:
        pad = raw[-1]
        if pad == 0 or end - pad < offset:
            raise BadLength(f"RTP padding count {pad} is invalid for this datagram")
        end -= pad
    return offset, end


# --- hot path -----------------------------------------------------------------------

#: (payload_type, marker, sequence_number, timestamp, ssrc, payload_start, payload_end)
RtpHeaderTuple = tuple[int, bool, int, int, int, int, int]


def plain_rtp_header(
    sequence_number: int, timestamp: int, ssrc: int, *, marker: bool = False
) -> bytes:
    """A plain 12-byte MPEG-TS RTP header (no CSRC, no extension).

    For the per-packet send path: ``header + payload`` is one allocation and one copy.
    Values are masked, never checked (the caller owns them).
    """
    return _HEADER.pack(_FIRST_BYTE_PLAIN, PT_MP2T | (0x80 if marker else 0),
                        sequence_number & 0xFFFF, timestamp & 0xFFFF_FFFF,
                        ssrc & 0xFFFF_FFFF)


def pack_rtp_header_into(
    buffer: bytearray | memoryview,
    offset: int,
    sequence_number: int,
    timestamp: int,
    ssrc: int,
    *,
    payload_type: int = PT_MP2T,
    marker: bool = False,
) -> None:
    """Write a plain 12-byte RTP header at ``offset`` with one ``struct.pack_into``.

    For the per-packet send path: the payload is already in the buffer after the
    header, so nothing is copied. Values are masked, never checked (the caller owns them).
    """
    _HEADER.pack_into(
        buffer,
        offset,
        _FIRST_BYTE_PLAIN,
        (payload_type & 0x7F) | (0x80 if marker else 0),
        sequence_number & 0xFFFF,
        timestamp & 0xFFFF_FFFF,
        ssrc & 0xFFFF_FFFF,
    )


def unpack_rtp_header(data: Buffer) -> RtpHeaderTuple:
    """Parse an RTP header with one ``struct.unpack_from``; no packet object.

    Returns payload bounds so the caller can slice the payload lazily. Raises the same
    ``ProtocolError`` subclasses as :meth:`RtpPacket.parse`.
    """
    if len(data) < RTP_HEADER_SIZE:
        raise Truncated(f"RTP datagram of {len(data)} bytes is shorter than its header")
    b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
    if b0 == _FIRST_BYTE_PLAIN and b1 < 192:
        return b1 & 0x7F, b1 > 127, seq, ts, ssrc, RTP_HEADER_SIZE, len(data)
    if b0 >> 6 != RTP_VERSION:
        raise BadVersion(f"RTP version {b0 >> 6}, expected 2")
    if is_rtcp_payload_type(b1):
        raise NotRtp(f"second byte {b1} is an RTCP packet type")
    start, end = _payload_bounds(as_bytes(data), b0)
    return b1 & 0x7F, b1 > 127, seq, ts, ssrc, start, end
