"""RFC 4585 transport-layer feedback: the generic NACK (PT 205, FMT 1).

GStreamer ``ristsrc`` asks for retransmissions with this form; librist accepts it too
(``rist_receiver_nack_type_set``). Each record names one lost packet (PID) and a bitmask
of up to 16 more losses after it (BLP bit i = PID + i + 1). Other RTPFB formats are not
decoded and come out of ``parse_compound`` as ``UnknownRtcp``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Final

from ristbond_core.wire.errors import BadLength, BadPacket, Truncated
from ristbond_core.wire.rtcp import PT_RTPFB, RtcpPacket
from ristbond_core.wire.seq import generic_nack_seqs

FMT_GENERIC_NACK: Final = 1

_SSRCS: Final = struct.Struct(">II")


@dataclass(frozen=True, slots=True)
class GenericNack(RtcpPacket):
    """Generic NACK: ``records`` are ``(pid, blp)`` pairs of 16-bit values.

    ``media_ssrc`` is the flow being NACKed; ``sender_ssrc`` is the NACKing receiver
    (GStreamer uses its own random SSRC there).
    """

    sender_ssrc: int
    media_ssrc: int
    records: tuple[tuple[int, int], ...]

    PACKET_TYPE: ClassVar[int] = PT_RTPFB

    def count_field(self) -> int:
        return FMT_GENERIC_NACK

    def lost_sequence_numbers(self) -> list[int]:
        """The 16-bit sequence numbers this NACK asks for, in record order."""
        return generic_nack_seqs(self.records)

    def body(self) -> bytes:
        try:
            head = _SSRCS.pack(self.sender_ssrc, self.media_ssrc)
            flat = [v for record in self.records for v in record]
            return head + struct.pack(f">{len(flat)}H", *flat)
        except struct.error as exc:
            raise ValueError(f"generic NACK field out of range: {exc}") from None

    @classmethod
    def from_body(cls, count: int, packet_type: int, body: bytes) -> GenericNack:
        if count != FMT_GENERIC_NACK:
            raise BadPacket(f"RTPFB FMT {count} is not a generic NACK")
        if len(body) < _SSRCS.size:
            raise Truncated(f"generic NACK body of {len(body)} bytes lacks its SSRCs")
        if (len(body) - _SSRCS.size) % 4:
            raise BadLength("generic NACK FCI is not a whole number of records")
        sender, media = _SSRCS.unpack_from(body)
        n = (len(body) - _SSRCS.size) // 2
        flat = struct.unpack_from(f">{n}H", body, _SSRCS.size)
        return cls(sender, media, tuple(zip(flat[0::2], flat[1::2], strict=True)))
