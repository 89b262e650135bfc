"""What the runtime needs from a datagram transport beyond ``DatagramTransport``.

The core's ``DatagramTransport`` protocol only moves datagrams. A runtime also has to
open and close links while the stream runs, listen on receiver ports and wait on the
transport's sockets together with its input in one ``select``; a transport plugin
that wants to be driven by ``ristbond send``/``receive`` implements this protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ristbond_core.contracts import Channel, LinkEndpoint, ListenEndpoint, ReceivedDatagram

__all__ = [
    "BatchSendingTransport", "LinkEndpoint", "ListenEndpoint", "OutgoingDatagram",
    "RuntimeTransport",
]


@runtime_checkable
class RuntimeTransport(Protocol):
    """A datagram transport the real-time loop can drive."""

    def open_link(self, endpoint: LinkEndpoint) -> None:
        """Create a sender link's sockets; raise ``RistbondError`` when impossible."""
        ...

    def close_link(self, link_id: str) -> None:
        """Close a sender link's sockets (unknown ids are ignored)."""
        ...

    def listen(self, endpoint: ListenEndpoint) -> None:
        """Open a receiver's RTP/RTCP socket pair; raise ``RistbondError`` when impossible."""
        ...

    def filenos(self) -> Sequence[int]:
        """Every socket to wait on; changes when links open or close."""
        ...

    def send(self, link_id: str, channel: Channel, data: bytes) -> None:
        """Send one datagram on ``link_id``'s ``channel`` socket."""
        ...

    def receive(self, timeout_s: float) -> Sequence[ReceivedDatagram]:
        """Wait up to ``timeout_s`` (0: do not wait) and return whatever arrived."""
        ...

    def stats(self) -> dict[str, int]:
        """Cumulative socket counters (errors, datagrams, bytes)."""
        ...

    def close(self) -> None:
        """Release every socket."""
        ...


class OutgoingDatagram(Protocol):
    """One datagram an engine wants sent (what ``send`` takes, as one object)."""

    @property
    def link_id(self) -> str: ...

    @property
    def channel(self) -> Channel: ...

    @property
    def data(self) -> bytes: ...


@runtime_checkable
class BatchSendingTransport(Protocol):
    """Optional: a transport that sends a pass's datagrams together (fewer system calls).

    The runtime hands over everything one pass of the loop produced, in the engine's
    order; datagrams of one link and channel must leave in that order.
    """

    def send_batch(self, datagrams: Sequence[OutgoingDatagram]) -> None:
        """Send every datagram, as ``send`` would one at a time."""
        ...
