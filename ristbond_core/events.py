"""Engine and lifecycle events: small frozen dataclasses, observed via fan-out hooks."""

from __future__ import annotations

from dataclasses import dataclass

from ristbond_core.contracts import LinkState


@dataclass(frozen=True, slots=True)
class LinkStateChanged:
    """A link's lifecycle moved from ``old`` to ``new`` because of ``reason``."""

    link_id: str
    old: LinkState
    new: LinkState
    reason: str
    at_ns: int


@dataclass(frozen=True, slots=True)
class NackSent:
    """The receiver asked for ``count`` missing packets over ``link_id``."""

    link_id: str
    first_seq: int
    count: int
    at_ns: int


@dataclass(frozen=True, slots=True)
class Retransmitted:
    """The sender resent extended ``seq`` on ``link_id`` (first carried by ``original_link``)."""

    seq: int
    link_id: str
    original_link: str
    at_ns: int


@dataclass(frozen=True, slots=True)
class PacketSkipped:
    """Output moved past missing packets ``first_seq``..``first_seq + count - 1``.

    ``reason`` says why: ``deadline`` (still missing when due) or ``flow_reset``.
    """

    first_seq: int
    count: int
    reason: str
    at_ns: int


@dataclass(frozen=True, slots=True)
class MalformedDatagram:
    """A datagram from ``link_id`` was dropped at the boundary because of ``reason``."""

    link_id: str
    reason: str
    at_ns: int


@dataclass(frozen=True, slots=True)
class FlowReset:
    """The receiver re-synchronised to a flow (new SSRC or a sequence discontinuity)."""

    ssrc: int
    reason: str
    at_ns: int
