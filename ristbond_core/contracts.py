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
from typing import Any, NamedTuple, Protocol, runtime_checkable

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
    #: True when ``capacity_bps`` was measured: on a full link (it carried less than it
    #: was given) or by packet pairs; False when it is only a lower bound: the link
    #: carried all it got.
    capacity_measured: bool = False
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
    """Chooses links for packets (``select``) and states the target split (``shares``).

    A scheduler that puts every packet on several links (redundancy, like
    ``broadcast``) may set a class attribute ``duplicates = True``: session transports,
    which never call ``select``, then duplicate instead of splitting by ``shares``.
    """

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


class ReceivedDatagram(NamedTuple):
    """One datagram as a transport hands it to an engine (a named tuple: one is made
    per datagram received, and a tuple is the cheapest immutable record)."""

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


@dataclass(frozen=True, slots=True)
class LinkEndpoint:
    """One sender link: the receiver's address and where the link leaves from.

    For the simple profile ``port`` is the RTP port and RTCP goes to ``port + 1``.
    ``interface`` binds the link to a device (SO_BINDTODEVICE); ``source`` binds it to
    a local address. ``options`` are the transport's own per-link keys (URL query keys
    or ``[[links]] options``); a transport rejects keys it does not know.
    """

    link_id: str
    host: str
    port: int
    interface: str | None = None
    source: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ListenEndpoint:
    """One receiver listening address (simple profile: RTP on ``port``, RTCP on ``port + 1``).

    ``options`` are the transport's own keys from the listen URL's query (for example a
    session transport's ``secret``); a transport rejects keys it does not know.
    """

    host: str
    port: int
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """What the core tells a session transport about the stream it carries."""

    latency_ms: int
    flow_id: int = 0


@dataclass(frozen=True, slots=True)
class SessionLinkReport:
    """One link's measurements from a session transport's own protocol stack.

    ``metrics`` feeds the lifecycle and the scheduler exactly like the core engines'
    own estimates; ``counters`` are the stack's numbers for the same interval (packets
    sent, retransmitted, received, ...) and go to telemetry as they are. Two counter
    names mean something to the core: ``sent_bytes`` (put on the link during the
    interval) and ``delivered_bytes`` (confirmed delivered during it); the lifecycle's
    blackhole clock and warm-up run on them.
    """

    link_id: str
    measured_ns: int
    metrics: LinkMetrics
    counters: Mapping[str, float] = field(default_factory=dict)


@runtime_checkable
class SessionTransport(Protocol):
    """Runs the RIST protocol itself (e.g. librist); the core feeds and reads payloads.

    The core opens the session as sender or receiver, then drives it from one loop:
    it writes input payloads (sender) or reads delivered payloads when ``fileno()``
    is readable (receiver), applies the scheduler's ``shares()`` as per-link weights,
    and polls per-link reports. Work on the transport's own threads must never block
    on the core, and its callbacks must never raise into the C library.
    """

    def start_sender(self, settings: SessionSettings, links: Sequence[LinkEndpoint]) -> None:
        """Create the sending session with one peer per link and start it."""
        ...

    def start_receiver(self, settings: SessionSettings,
                       listen: Sequence[ListenEndpoint]) -> None:
        """Create the receiving session listening on every endpoint and start it."""
        ...

    def add_link(self, endpoint: LinkEndpoint) -> None:
        """Add a sender link while the session runs."""
        ...

    def remove_link(self, link_id: str) -> None:
        """Remove a sender link while the session runs (unknown ids are ignored)."""
        ...

    def write(self, payload: bytes) -> None:
        """Queue one input payload for sending (sender)."""
        ...

    def read(self, max_count: int) -> Sequence[bytes]:
        """Delivered payloads, in order, without waiting (receiver)."""
        ...

    def fileno(self) -> int | None:
        """A descriptor that becomes readable when ``read()`` may return payloads."""
        ...

    def apply_shares(self, shares: Mapping[str, float], *,
                     duplicate: bool = False) -> Mapping[str, int]:
        """Apply a scheduler's target split as per-link weights; return what was applied.

        ``duplicate`` asks for every packet on every link (a redundant scheduler).
        """
        ...

    def poll_reports(self) -> Sequence[SessionLinkReport]:
        """Per-link reports gathered since the last poll (never blocks)."""
        ...

    def stats(self) -> dict[str, Any]:
        """Cumulative session counters for stats snapshots."""
        ...

    def close(self) -> None:
        """Stop the session and release everything."""
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
