"""What the real-time sender and receiver loops share: flushing an engine's output to
the transport and its events to the plugins, snapshots, and the final line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ristbond_core.engine.common import OutDatagram
from ristbond_core.events import LinkStateChanged
from ristbond_core.plugins import PluginHost
from ristbond_core.runtime.clock import WakeSpacing, arrival_order, now_ns
from ristbond_core.runtime.meter import StreamMeter
from ristbond_core.runtime.report import SnapshotPublisher, final_line
from ristbond_core.runtime.transport_api import (
    BatchSendingTransport,
    OutgoingDatagram,
    RuntimeTransport,
)

log = logging.getLogger(__name__)


class _Engine(Protocol):
    def receive_datagram(self, link_id: str, data: bytes, now_ns: int) -> None: ...
    def datagrams_to_send(self, now_ns: int) -> list[OutDatagram]: ...
    def drain_events(self) -> list[object]: ...
    def stats(self, now_ns: int) -> dict[str, Any]: ...


class EngineDriver:
    """Base of ``SenderRuntime`` and ``ReceiverRuntime``; subclasses set the fields."""

    role: str
    engine: _Engine
    host: PluginHost
    transport: RuntimeTransport
    publisher: SnapshotPublisher
    meter: StreamMeter
    spacing: WakeSpacing
    #: The latest time handed to the engine; arrivals are never timed before it.
    fed_ns: int = 0

    _batch_send: Callable[[Sequence[OutgoingDatagram]], None] | None = None
    _batch_known = False

    def _batch_sender(self) -> Callable[[Sequence[OutgoingDatagram]], None] | None:
        """The transport's ``send_batch`` if it has one (looked up once: the protocol
        check is not cheap)."""
        if not self._batch_known:
            self._batch_known = True
            if isinstance(self.transport, BatchSendingTransport):
                self._batch_send = self.transport.send_batch
        return self._batch_send

    def _take_datagrams(self) -> int:
        """Feed the engine what the transport has, in arrival order; returns now."""
        datagrams = self.transport.receive(0.0)
        now = now_ns()
        if datagrams:
            receive = self.engine.receive_datagram
            for datagram, at in arrival_order(datagrams, self.fed_ns, now):
                receive(datagram.link_id, datagram.data, at)
        self.fed_ns = now
        return now

    def _flush(self, now: int) -> None:
        """Send what the engine queued; hand lifecycle transitions to the plugins."""
        outgoing = self.engine.datagrams_to_send(now)
        send_batch = self._batch_sender()
        if len(outgoing) > 1 and send_batch is not None:
            send_batch(outgoing)
        else:
            for out in outgoing:
                self.transport.send(out.link_id, out.channel, out.data)
        events = self.engine.drain_events()
        if not events:
            return
        trace = log.isEnabledFor(logging.DEBUG)
        for event in events:
            if isinstance(event, LinkStateChanged):
                log.info("link %s: %s -> %s (%s)", event.link_id, event.old.value,
                         event.new.value, event.reason)
                self.host.notify_link_state_changed(event)
            elif trace:
                # Retransmissions, NACKs, skipped packets: what explains a gap afterwards.
                log.debug("%s", event)

    def _snapshot(self, now: int) -> dict[str, Any]:
        snapshot = self.engine.stats(now)
        snapshot["transport"] = self.transport.stats()
        self.publisher.publish(snapshot)
        return snapshot

    def _finish(self, reason: str) -> None:
        snapshot = self._snapshot(now_ns())
        print(final_line(self.role, reason, snapshot, self.meter, self.transport.stats()),
              file=sys.stderr, flush=True)
        self.close()

    def close(self) -> None:
        """Release everything (subclasses add their input or output)."""
        self.transport.close()
        self.publisher.close()
