"""RTCP packet framing and the RFC 3550/3611 packet types: SR, RR, SDES, BYE, XR.

Every RTCP packet starts with the same 4-byte header (V=2, padding bit, a 5-bit count
or subtype, packet type, length in 32-bit words minus one). :func:`split_rtcp` walks
those headers over a compound datagram with strict bounds; each packet class decodes
only its own body. The feedback (NACK) and APP types live in ``feedback`` and ``app``;
``compound`` dispatches between them all.

Parsing is lenient where real peers are sloppy and strict where a wrong length would
make us read past the datagram: librist 0.2.7 fills receiver report blocks with junk
(an SSRC that is really the next packet's header, random lost counts), so report block
fields are taken as they come and never validated.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, Final, TypeVar

from ristbond_core.wire._buffer import Buffer, as_bytes, pad4
from ristbond_core.wire.errors import BadLength, BadPacket, BadVersion, NotRtcp, Truncated

PT_SR: Final = 200
PT_RR: Final = 201
PT_SDES: Final = 202
PT_BYE: Final = 203
PT_APP: Final = 204
PT_RTPFB: Final = 205
PT_PSFB: Final = 206
PT_XR: Final = 207

RTCP_HEADER_SIZE: Final = 4
#: The RTCP length field counts 32-bit words minus one, so a packet is at most this big.
MAX_RTCP_PACKET_SIZE: Final = 4 * (0xFFFF + 1)

_HEADER: Final = struct.Struct(">BBH")
_U32: Final = struct.Struct(">I")
_SR_INFO: Final = struct.Struct(">IQIII")
_REPORT_BLOCK: Final = struct.Struct(">IIIIII")
_XR_BLOCK_HEADER: Final = struct.Struct(">BBH")

SDES_END: Final = 0
SDES_CNAME: Final = 1

_P = TypeVar("_P", bound="RtcpPacket")


def rtcp_header(count: int, packet_type: int, body_length: int) -> bytes:
    """The 4-byte header for a body of ``body_length`` bytes (a multiple of 4)."""
    if body_length % 4:
        raise ValueError(f"RTCP body of {body_length} bytes is not 32-bit aligned")
    if not 0 <= count <= 31:
        raise ValueError(f"RTCP count/subtype {count} does not fit in 5 bits")
    if body_length + RTCP_HEADER_SIZE > MAX_RTCP_PACKET_SIZE:
        raise ValueError(f"RTCP body of {body_length} bytes exceeds the length field")
    return _HEADER.pack(0x80 | count, packet_type, body_length // 4)


def split_rtcp(data: Buffer) -> Iterator[tuple[int, int, bytes]]:
    """Yield ``(count, packet_type, body)`` for each packet of a compound datagram.

    Raises ``Truncated`` for a trailing partial header, ``BadLength`` when a length
    field runs past the datagram or padding is inconsistent, ``BadVersion`` for V != 2.
    Padding (only legal on the last packet) is stripped from the body.
    """
    raw = as_bytes(data)
    end = len(raw)
    if end == 0:
        raise Truncated("empty RTCP datagram")
    offset = 0
    while offset < end:
        if end - offset < RTCP_HEADER_SIZE:
            raise Truncated(f"{end - offset} stray bytes after the last RTCP packet")
        b0, packet_type, words = _HEADER.unpack_from(raw, offset)
        if b0 >> 6 != 2:
            raise BadVersion(f"RTCP version {b0 >> 6} at offset {offset}, expected 2")
        size = 4 * (words + 1)
        if offset + size > end:
            raise BadLength(
                f"RTCP packet type {packet_type} at offset {offset} claims {size} bytes, "
                f"only {end - offset} present"
            )
        body = raw[offset + RTCP_HEADER_SIZE : offset + size]
        if b0 & 0x20:
            pad = body[-1] if body else 0
            if pad == 0 or pad > len(body):
                raise BadLength(f"RTCP padding count {pad} invalid for a {size}-byte packet")
            body = body[:-pad]
        yield b0 & 0x1F, packet_type, body
        offset += size


class RtcpPacket:
    """Base of every RTCP packet class: header framing shared by all of them."""

    __slots__ = ()
    PACKET_TYPE: ClassVar[int]

    def count_field(self) -> int:
        """The 5-bit count/subtype/FMT value of the header."""
        return 0

    def body(self) -> bytes:
        """The packet after its 4-byte header (a multiple of 4 bytes)."""
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        body = self.body()
        return rtcp_header(self.count_field(), self.PACKET_TYPE, len(body)) + body

    def to_bytes(self) -> bytes:
        """Encode this packet alone (use ``build_compound`` for a whole datagram)."""
        return bytes(self)

    @classmethod
    def from_body(cls, count: int, packet_type: int, body: bytes) -> RtcpPacket:
        """Decode the body of one packet whose header is already validated."""
        raise NotImplementedError

    @classmethod
    def parse(cls: type[_P], data: Buffer) -> _P:
        """Decode a datagram holding exactly one packet of this class."""
        packets = list(split_rtcp(data))
        if len(packets) != 1:
            raise BadPacket(f"expected one RTCP packet, found {len(packets)}")
        count, packet_type, body = packets[0]
        if packet_type != cls.PACKET_TYPE:
            raise NotRtcp(f"RTCP packet type {packet_type}, expected {cls.PACKET_TYPE}")
        packet = cls.from_body(count, packet_type, body)
        if not isinstance(packet, cls):
            raise BadPacket(f"packet decodes as {type(packet).__name__}, not {cls.__name__}")
        return packet


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report block (RFC 3550 6.4.1), fields as received.

    ``cumulative_lost`` is the signed 24-bit value; ``last_sr`` and
    ``delay_since_last_sr`` are in NTP short format (1/65536 s).
    """

    ssrc: int
    fraction_lost: int = 0
    cumulative_lost: int = 0
    highest_sequence: int = 0
    jitter: int = 0
    last_sr: int = 0
    delay_since_last_sr: int = 0

    SIZE: ClassVar[int] = 24

    @classmethod
    def unpack_from(cls, raw: bytes, offset: int) -> ReportBlock:
        """Decode the block at ``offset`` (the caller checked 24 bytes are there)."""
        ssrc, lost_word, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(raw, offset)
        lost = lost_word & 0xFF_FFFF
        if lost & 0x80_0000:
            lost -= 1 << 24
        return cls(ssrc, lost_word >> 24, lost, highest, jitter, lsr, dlsr)

    def __bytes__(self) -> bytes:
        if not -(1 << 23) <= self.cumulative_lost < (1 << 23):
            raise ValueError(f"cumulative lost {self.cumulative_lost} exceeds 24 bits")
        if not 0 <= self.fraction_lost <= 255:
            raise ValueError(f"fraction lost {self.fraction_lost} exceeds 8 bits")
        word = (self.fraction_lost << 24) | (self.cumulative_lost & 0xFF_FFFF)
        try:
            return _REPORT_BLOCK.pack(
                self.ssrc,
                word,
                self.highest_sequence,
                self.jitter,
                self.last_sr,
                self.delay_since_last_sr,
            )
        except struct.error as exc:
            raise ValueError(f"report block field out of range: {exc}") from None


def _report_blocks(body: bytes, offset: int, count: int) -> tuple[tuple[ReportBlock, ...], int]:
    end = offset + count * ReportBlock.SIZE
    if end > len(body):
        raise BadLength(f"{count} report blocks need {end} body bytes, have {len(body)}")
    blocks = tuple(
        ReportBlock.unpack_from(body, offset + i * ReportBlock.SIZE) for i in range(count)
    )
    return blocks, end


def _check_extension(extension: bytes) -> None:
    if len(extension) % 4:
        raise ValueError("profile-specific extension must be a multiple of 4 bytes")


@dataclass(frozen=True, slots=True)
class SenderReport(RtcpPacket):
    """SR (PT 200). librist leaves ``packet_count``/``octet_count`` at 0; GStreamer fills them.

    ``ntp_timestamp`` is the full 64-bit NTP time; ``extension`` keeps any
    profile-specific bytes after the report blocks.
    """

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int = 0
    octet_count: int = 0
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    PACKET_TYPE: ClassVar[int] = PT_SR

    def count_field(self) -> int:
        return len(self.reports)

    def body(self) -> bytes:
        _check_extension(self.extension)
        try:
            info = _SR_INFO.pack(
                self.ssrc,
                self.ntp_timestamp,
                self.rtp_timestamp,
                self.packet_count,
                self.octet_count,
            )
        except struct.error as exc:
            raise ValueError(f"sender report field out of range: {exc}") from None
        return info + b"".join(bytes(r) for r in self.reports) + self.extension

    @classmethod
    def from_body(cls, count: int, packet_type: int, body: bytes) -> SenderReport:
        if len(body) < _SR_INFO.size:
            raise Truncated(f"SR body of {len(body)} bytes, need {_SR_INFO.size}")
        ssrc, ntp, rtp_ts, packets, octets = _SR_INFO.unpack_from(body)
        reports, end = _report_blocks(body, _SR_INFO.size, count)
        return cls(ssrc, ntp, rtp_ts, packets, octets, reports, body[end:])


@dataclass(frozen=True, slots=True)
class ReceiverReport(RtcpPacket):
    """RR (PT 201). librist sends one block of junk or none; GStreamer a real one."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    PACKET_TYPE: ClassVar[int] = PT_RR

    def count_field(self) -> int:
        return len(self.reports)

    def body(self) -> bytes:
        _check_extension(self.extension)
        try:
            head = _U32.pack(self.ssrc)
        except struct.error as exc:
            raise ValueError(f"RR SSRC out of range: {exc}") from None
        return head + b"".join(bytes(r) for r in self.reports) + self.extension

    @classmethod
    def from_body(cls, count: int, packet_type: int, body: bytes) -> ReceiverReport:
        if len(body) < 4:
            raise Truncated(f"RR body of {len(body)} bytes has no SSRC")
        reports, end = _report_blocks(body, 4, count)
        return cls(_U32.unpack_from(body)[0], reports, body[end:])


@dataclass(frozen=True, slots=True)
class SdesItem:
    """One SDES item: type (1 = CNAME, 2 = NAME, ..., 8 = PRIV) and raw value bytes."""

    item_type: int
    value: bytes


@dataclass(frozen=True, slots=True)
class SdesChunk:
    """The SDES items of one SSRC, in wire order (unknown item types are kept)."""

    ssrc: int
    items: tuple[SdesItem, ...] = ()

    @property
    def cname(self) -> str | None:
        """The CNAME as text (undecodable bytes replaced), or None if absent."""
        for item in self.items:
            if item.item_type == SDES_CNAME:
                return item.value.decode("utf-8", errors="replace")
        return None

    def __bytes__(self) -> bytes:
        out = bytearray(_U32.pack(self.ssrc))
        for item in self.items:
            if not 1 <= item.item_type <= 255:
                raise ValueError(f"SDES item type {item.item_type} out of range 1..255")
            if len(item.value) > 255:
                raise ValueError("SDES item value longer than 255 bytes")
            out += bytes((item.item_type, len(item.value))) + item.value
        # The item list ends with a null octet, then nulls up to the next 32-bit boundary.
        out += bytes(1 + pad4(len(out) + 1))
        return bytes(out)


@dataclass(frozen=True, slots=True)
class SourceDescription(RtcpPacket):
    """SDES (PT 202). Every RIST peer sends a CNAME; a librist receiver ignores RTP
    until it has seen an SDES from the sender, so a sender must always include one."""

    chunks: tuple[SdesChunk, ...]

    PACKET_TYPE: ClassVar[int] = PT_SDES

    @classmethod
    def with_cname(cls, ssrc: int, cname: str) -> SourceDescription:
        """The usual one-chunk SDES carrying just a CNAME."""
        return cls((SdesChunk(ssrc, (SdesItem(SDES_CNAME, cname.encode()),)),))

    @property
    def cname(self) -> str | None:
        """The first chunk's CNAME, or None."""
        return self.chunks[0].cname if self.chunks else None

    def count_field(self) -> int:
        return len(self.chunks)

    def body(self) -> bytes:
        return b"".join(bytes(c) for c in self.chunks)

    @classmethod
    def from_body(cls, count: int, packet_type: int, body: bytes) -> SourceDescription:
        chunks: list[SdesChunk] = []
        pos = 0
        for _ in range(count):
            if pos + 4 > len(body):
                raise Truncated(f"SDES chunk {len(chunks)} has no SSRC")
            ssrc = _U32.unpack_from(body, pos)[0]
            pos += 4
            items: list[SdesItem] = []
            while True:
                if pos >= len(body):
                    raise Truncated("SDES chunk ends without its null item")
                item_type = body[pos]
                if item_type == SDES_END:
                    pos += 1
                    pos += pad4(pos)
                    break
                if pos + 2 > len(body):
                    raise Truncated("SDES item header past the packet end")
                length = body[pos + 1]
                if pos + 2 + length > len(body):
                    raise BadLength(f"SDES item of {length} bytes runs past the packet end")
                items.append(SdesItem(item_type, body[pos + 2 : pos + 2 + length]))
                pos += 2 + length
            chunks.append(SdesChunk(ssrc, tuple(items)))
        if pos > len(body):
            raise Truncated("SDES chunk padding runs past the packet end")
        return cls(tuple(chunks))


@dataclass(frozen=True, slots=True)
class Goodbye(RtcpPacket):
    """BYE (PT 203): sources leaving, with an optional reason. GStreamer sends one at EOS."""

    ssrcs: tuple[int, ...]
    reason: bytes | None = None

    PACKET_TYPE: ClassVar[int] = PT_BYE

    def count_field(self) -> int:
        return len(self.ssrcs)

    def body(self) -> bytes:
        try:
            out = struct.pack(f">{len(self.ssrcs)}I", *self.ssrcs)
        except struct.error as exc:
            raise ValueError(f"BYE SSRC out of range: {exc}") from None
        if self.reason is not None:
            if len(self.reason) > 255:
                raise ValueError("BYE reason longer than 255 bytes")
            text = bytes((len(self.reason),)) + self.reason
            out += text + bytes(pad4(len(text)))
        return out

    @classmethod
    def from_body(cls, count: int, packet_type: int, body: bytes) -> Goodbye:
        end = 4 * count
        if end > len(body):
            raise BadLength(f"BYE lists {count} SSRCs in {len(body)} bytes")
        ssrcs = struct.unpack_from(f">{count}I", body)
        reason = None
        if end < len(body):
            length = body[end]
            if end + 1 + length > len(body):
                raise BadLength(f"BYE reason of {length} bytes runs past the packet end")
            reason = body[end + 1 : end + 1 + length]
        return cls(tuple(ssrcs), reason)


@dataclass(frozen=True, slots=True)
class XrBlock:
    """One extended report block (RFC 3611), kept raw; type 4 is RRTR (librist sends it)."""

    block_type: int
    type_specific: int
    data: bytes

    @property
    def rrtr_ntp_timestamp(self) -> int | None:
        """For a Receiver Reference Time block, its 64-bit NTP timestamp."""
        if self.block_type == 4 and len(self.data) == 8:
            return int.from_bytes(self.data, "big")
        return None


@dataclass(frozen=True, slots=True)
class ExtendedReport(RtcpPacket):
    """XR (PT 207). librist's receiver puts an RRTR block in its first RTCP; we only
    need to read past it, so blocks are kept as raw bytes."""

    ssrc: int
    blocks: tuple[XrBlock, ...] = ()

    PACKET_TYPE: ClassVar[int] = PT_XR

    def body(self) -> bytes:
        out = bytearray(_U32.pack(self.ssrc))
        for block in self.blocks:
            if len(block.data) % 4:
                raise ValueError("XR block data must be a multiple of 4 bytes")
            out += _XR_BLOCK_HEADER.pack(
                block.block_type, block.type_specific, len(block.data) // 4
            )
            out += block.data
        return bytes(out)

    @classmethod
    def from_body(cls, count: int, packet_type: int, body: bytes) -> ExtendedReport:
        if len(body) < 4:
            raise Truncated("XR body has no SSRC")
        pos = 4
        blocks = []
        while pos < len(body):
            if pos + 4 > len(body):
                raise Truncated("XR block header past the packet end")
            block_type, specific, words = _XR_BLOCK_HEADER.unpack_from(body, pos)
            end = pos + 4 + 4 * words
            if end > len(body):
                raise BadLength(f"XR block of {words} words runs past the packet end")
            blocks.append(XrBlock(block_type, specific, body[pos + 4 : end]))
            pos = end
        return cls(_U32.unpack_from(body)[0], tuple(blocks))


@dataclass(frozen=True, slots=True)
class UnknownRtcp(RtcpPacket):
    """An RTCP packet type (or feedback FMT, or APP name) we do not decode, kept raw
    so a compound still parses and re-encodes byte for byte."""

    packet_type: int
    count: int
    payload: bytes

    PACKET_TYPE: ClassVar[int] = -1

    def count_field(self) -> int:
        return self.count

    def body(self) -> bytes:
        return self.payload

    def __bytes__(self) -> bytes:
        if not 0 <= self.packet_type <= 255:
            raise ValueError(f"RTCP packet type {self.packet_type} out of range")
        return rtcp_header(self.count, self.packet_type, len(self.payload)) + self.payload

    @classmethod
    def from_body(cls, count: int, packet_type: int, body: bytes) -> UnknownRtcp:
        return cls(packet_type, count, body)

    @classmethod
    def parse(cls, data: Buffer) -> UnknownRtcp:
        """Keep one packet of any type raw."""
        packets = list(split_rtcp(data))
        if len(packets) != 1:
            raise BadPacket(f"expected one RTCP packet, found {len(packets)}")
        count, packet_type, body = packets[0]
        return cls(packet_type, count, body)
