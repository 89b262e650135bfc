"""Typed contracts every plugin object honours.

The per-packet path calls these objects directly (never through pluggy): a
``Scheduler`` is asked ``select()`` for each packet, a ``DatagramTransport`` is
asked to ``send()`` each datagram. Hooks in :mod:`ristbond_core.hookspecs` only
register factories for them.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel


class LinkState(str, enum.Enum):
    """Phases of the link lifecycle (see ``ristbond_core.engine.lifecycle``)."""

    INIT = "init"
    PROBE = "probe"
    WARM = "warm"
    LIVE = "live"
    DEGRADE = "degrade"
    COOLDOWN = "cooldown"
    RESET = "reset"


@dataclass(frozen=True, slots=True)
class LinkMetrics:
    """What the core currently believes about one link; ``None`` means unknown.

    ``loss`` is attributed channel loss (fraction of this link's packets the
    receiver reported missing), not residual loss after retransmission.
    """

    rtt_ms: float | None = None
    min_rtt_ms: float | None = None
    loss: float = 0.0
    jitter_ms: float = 0.0
    capacity_bps: float | None = None
    delivery_rate_bps: float | None = None
    feedback_age_ms: float | None = None


@dataclass(frozen=True, slots=True)
class LinkView:
    """A scheduler's read-only view of one link at one instant.

    ``usable`` is the lifecycle's verdict: a scheduler must not select a link whose
    ``usable`` is False while any usable link exists. ``admission`` (0..1) is the
    ramp the lifecycle allows a probing/warming link; live links have 1.0.
    """

    link_id: str
    state: LinkState = LinkState.LIVE
    usable: bool = True
    admission: float = 1.0
    weight: float = 1.0
    metrics: LinkMetrics = field(default_factory=LinkMetrics)


@dataclass(frozen=True, slots=True)
class PacketInfo:
    """What a scheduler may know about the packet it places."""

    seq: int
    size_bytes: int
    retransmission: bool = False


@dataclass(frozen=True, slots=True)
class SchedulerSetup:
    """Everything a scheduler factory receives: its validated options and a seeded RNG."""

    options: BaseModel
    rng: random.Random


@runtime_checkable
class Scheduler(Protocol):
    """Chooses links for packets (``select``) and states the target split (``shares``)."""

    def select(
        self, packet: PacketInfo, links: Sequence[LinkView], now_ns: int
    ) -> Sequence[str]:
        """Link ids that carry ``packet`` (one normally; several for redundancy)."""
        ...

    def shares(self, links: Sequence[LinkView], now_ns: int) -> Mapping[str, float]:
        """Target fraction of traffic per link id, summing to 1 over used links."""
        ...

    def on_metrics(self, link: LinkView, now_ns: int) -> None:
        """New metrics or a new lifecycle state arrived for ``link``."""
        ...

    def on_link_added(self, link_id: str, now_ns: int) -> None:
        """A link joined the bond."""
        ...

    def on_link_removed(self, link_id: str, now_ns: int) -> None:
        """A link left the bond; forget its state."""
        ...


class Channel(str, enum.Enum):
    """The two sockets of a RIST simple-profile link."""

    RTP = "rtp"
    RTCP = "rtcp"


@dataclass(frozen=True, slots=True)
class ReceivedDatagram:
    """One datagram as a transport hands it to an engine."""

    link_id: str
    channel: Channel
    data: bytes
    source: tuple[str, int]
    received_ns: int


@runtime_checkable
class DatagramTransport(Protocol):
    """Moves datagrams for links; the core's engines run the RIST protocol."""

    def send(self, link_id: str, channel: Channel, data: bytes) -> None:
        """Send one datagram on ``link_id``'s ``channel`` socket."""
        ...

    def receive(self, timeout_s: float) -> Sequence[ReceivedDatagram]:
        """Wait up to ``timeout_s`` and return whatever arrived."""
        ...

    def close(self) -> None:
        """Release every socket."""
        ...


@runtime_checkable
class SessionTransport(Protocol):
    """Runs the RIST protocol itself (e.g. librist); the core feeds payloads."""

    def write(self, payload: bytes) -> None:
        """Queue one input datagram for sending."""
        ...

    def read(self, timeout_s: float) -> Sequence[bytes]:
        """Return delivered payloads, waiting up to ``timeout_s``."""
        ...

    def apply_shares(self, shares: Mapping[str, float]) -> None:
        """Apply a scheduler's target split as per-link weights."""
        ...

    def close(self) -> None:
        """Stop the session."""
        ...


@dataclass(frozen=True, slots=True)
class LinkFeedback:
    """A measurement about one link from a feedback source (OS hint, modem, plugin)."""

    link_id: str
    measured_ns: int
    values: Mapping[str, float]


@runtime_checkable
class FeedbackSource(Protocol):
    """Supplies link measurements beyond what RTCP gives (modem signal, OS hints)."""

    def poll(self, now_ns: int) -> Sequence[LinkFeedback]:
        """Measurements gathered since the last poll."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


@runtime_checkable
class TelemetryExporter(Protocol):
    """Receives stats snapshots; must never block the data path."""

    def export(self, snapshot: Mapping[str, Any]) -> None:
        """Publish one stats snapshot (the versioned schema)."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...
