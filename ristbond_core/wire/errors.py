"""Errors raised when a datagram from the network cannot be decoded.

Every parser in :mod:`ristbond_core.wire` raises only :class:`ProtocolError`
subclasses for malformed input, so the datagram boundary can count and drop remote
garbage with one ``except`` clause. Local misuse (building a packet from values that do
not fit the wire format) raises ``ValueError`` instead: that is a bug, not traffic.
"""

from __future__ import annotations

from ristbond_core.errors import RistbondError


class ProtocolError(RistbondError):
    """A datagram violates the RTP/RTCP/RIST wire format; ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Truncated(ProtocolError):  # noqa: N818 -- the name is the reason
    """The datagram ends before a header or field that must be present."""


class BadVersion(ProtocolError):  # noqa: N818 -- the name is the reason
    """The RTP/RTCP version bits are not 2 (or a body version we cannot read)."""


class BadLength(ProtocolError):  # noqa: N818 -- the name is the reason
    """A length or count field disagrees with the bytes actually present."""


class NotRtp(ProtocolError):  # noqa: N818 -- the name is the reason
    """The datagram is RTCP (or garbage) where an RTP packet was expected."""


class NotRtcp(ProtocolError):  # noqa: N818 -- the name is the reason
    """The datagram is RTP (or garbage) where RTCP was expected."""


class BadPacket(ProtocolError):  # noqa: N818 -- the name is the reason
    """A field holds a value the format does not allow (wrong type, name, subtype)."""
