"""Compound RTCP datagrams and the RTP/RTCP demultiplexer.

RIST peers send RTCP as compound datagrams (SR/RR + SDES + APP/NACK...). Decoding is
all-or-nothing on framing -- a length field that runs past the datagram makes the whole
datagram invalid, because everything after it is unaligned -- but forgiving on content:
packet types we do not decode come back as ``UnknownRtcp``/``AppPacket`` so the rest
of the compound is still used.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Final

from ristbond_core.wire._buffer import Buffer, as_bytes
from ristbond_core.wire.app import decode_app
from ristbond_core.wire.errors import BadVersion, NotRtcp, ProtocolError, Truncated
from ristbond_core.wire.feedback import FMT_GENERIC_NACK, GenericNack
from ristbond_core.wire.rtcp import (
    PT_APP,
    PT_RTPFB,
    ExtendedReport,
    Goodbye,
    ReceiverReport,
    RtcpPacket,
    SenderReport,
    SourceDescription,
    UnknownRtcp,
    split_rtcp,
)
from ristbond_core.wire.rtp import is_rtcp_payload_type

_Decoder = Callable[[int, int, bytes], RtcpPacket]


def _decode_feedback(count: int, packet_type: int, body: bytes) -> RtcpPacket:
    if count == FMT_GENERIC_NACK:
        return GenericNack.from_body(count, packet_type, body)
    return UnknownRtcp(packet_type, count, body)


def _decode_app(count: int, packet_type: int, body: bytes) -> RtcpPacket:
    return decode_app(count, body)


_DECODERS: Final[dict[int, _Decoder]] = {
    cls.PACKET_TYPE: cls.from_body
    for cls in (SenderReport, ReceiverReport, SourceDescription, Goodbye, ExtendedReport)
}
_DECODERS[PT_RTPFB] = _decode_feedback
_DECODERS[PT_APP] = _decode_app


def parse_rtcp_body(count: int, packet_type: int, body: bytes) -> RtcpPacket:
    """Decode one packet from its header fields and body (see ``split_rtcp``)."""
    decoder = _DECODERS.get(packet_type)
    if decoder is None:
        return UnknownRtcp(packet_type, count, body)
    return decoder(count, packet_type, body)


def parse_compound(data: Buffer) -> list[RtcpPacket]:
    """Decode every packet of an RTCP datagram, in order.

    Raises a ``ProtocolError`` subclass if the datagram is not RTCP or any packet is
    malformed; unknown packet types are returned raw, never fatal.
    """
    if len(data) >= 2 and not is_rtcp_payload_type(data[1]):
        raise NotRtcp(f"second byte {data[1]} is not an RTCP packet type (RTP?)")
    return [parse_rtcp_body(c, pt, body) for c, pt, body in split_rtcp(data)]


def parse_compound_prefix(data: Buffer) -> tuple[list[RtcpPacket], ProtocolError | None]:
    """Decode every valid packet of an RTCP datagram, skipping malformed ones.

    Returns the valid packets and the first error met (None if everything was valid).
    A packet whose length field fits the datagram but whose content is invalid is
    skipped and parsing goes on; a header that cannot be read or a length running past
    the datagram ends it. Peers send junk: GStreamer's ``ristsrc`` 1.22 in some sessions
    puts a 4-byte non-packet into every RTCP datagram, and rejecting the whole datagram
    would throw away its NACKs. A datagram with no valid packet at all still raises.
    """
    if len(data) >= 2 and not is_rtcp_payload_type(data[1]):
        raise NotRtcp(f"second byte {data[1]} is not an RTCP packet type (RTP?)")
    raw = as_bytes(data)
    packets: list[RtcpPacket] = []
    first_error: ProtocolError | None = None
    offset = 0
    while offset < len(raw):
        if len(raw) - offset < 4 or raw[offset] >> 6 != 2:
            first_error = first_error or Truncated(f"unreadable RTCP header at offset {offset}")
            break
        size = 4 * (int.from_bytes(raw[offset + 2 : offset + 4], "big") + 1)
        if offset + size > len(raw):
            first_error = first_error or Truncated(
                f"RTCP packet at offset {offset} claims {size} bytes past the datagram end")
            break
        try:
            packets.extend(parse_compound(raw[offset : offset + size]))
        except ProtocolError as exc:
            first_error = first_error or exc
        offset += size
    if not packets:
        raise first_error or Truncated("empty RTCP datagram")
    return packets, first_error


#: The top three bits of the first bare NACK word ``bare_nack_records`` accepts: a first
#: PID in 0xA000-0xBFFF, the only lists GStreamer's ristsrc sends headerless.
_BARE_NACK_TOP_BITS: Final = 0b101


def bare_nack_records(data: Buffer) -> list[tuple[int, int]]:
    """Generic NACK entries ``(pid, blp)`` sent without their RTPFB header, or ``[]``.

    GStreamer 1.22's ``ristsrc`` writes the FCI words of a generic NACK straight after
    its RR + SDES, with no RTPFB header and no SSRCs, whenever the first NACKed sequence
    number lies in 0xA000-0xBFFF (that word reads as an RTCP header with version 2 and
    the padding bit set). The words after it may hold any PID: a list that runs past
    0xBFFF (0xBF9C, 0xC004, ...) comes out headerless too. The words are taken as NACK
    entries only when the well-formed packets end exactly where they start, the rest of
    the datagram is whole words, and the first word has that bit pattern; anything else
    is left as junk.
    """
    raw = as_bytes(data)
    offset = 0
    while len(raw) - offset >= 4 and raw[offset] >> 6 == 2:
        size = 4 * (int.from_bytes(raw[offset + 2 : offset + 4], "big") + 1)
        if offset + size > len(raw):
            break
        try:
            parse_compound(raw[offset : offset + size])
        except ProtocolError:
            break
        offset += size
    tail = raw[offset:]
    if offset == 0 or not tail or len(tail) % 4:
        return []
    words = [tail[i : i + 4] for i in range(0, len(tail), 4)]
    if words[0][0] >> 5 != _BARE_NACK_TOP_BITS:
        return []
    return [(int.from_bytes(w[:2], "big"), int.from_bytes(w[2:], "big")) for w in words]


def build_compound(packets: Iterable[RtcpPacket]) -> bytes:
    """Encode packets back to back into one datagram."""
    return b"".join(bytes(p) for p in packets)


class DatagramKind(enum.Enum):
    """What a datagram on a RIST port is."""

    RTP = "rtp"
    RTCP = "rtcp"


def classify_datagram(data: Buffer) -> DatagramKind:
    """Tell RTP from RTCP by the second byte, as RFC 5761 muxing does.

    RTCP packet types 192..223 never collide with RTP marker+PT values for the payload
    types RIST uses. Only the first two bytes are checked; the parsers do the rest.
    """
    if len(data) < 2:
        raise Truncated(f"datagram of {len(data)} bytes cannot be RTP or RTCP")
    if data[0] >> 6 != 2:
        raise BadVersion(f"version {data[0] >> 6}, expected 2")
    return DatagramKind.RTCP if is_rtcp_payload_type(data[1]) else DatagramKind.RTP
