"""What the real-time sender and receiver loops share: flushing an engine's output to
the transport and its events to the plugins, snapshots, and the final line."""

from __future__ import annotations

import logging
import sys
from typing import Any, Protocol

from ristbond_core.engine.common import OutDatagram
from ristbond_core.events import LinkStateChanged
from ristbond_core.plugins import PluginHost
from ristbond_core.runtime.clock import now_ns
from ristbond_core.runtime.meter import StreamMeter
from ristbond_core.runtime.report import SnapshotPublisher, final_line
from ristbond_core.runtime.transport_api import RuntimeTransport

log = logging.getLogger(__name__)


class _Engine(Protocol):
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

    def _flush(self, now: int) -> None:
        """Send what the engine queued; hand lifecycle transitions to the plugins."""
        for out in self.engine.datagrams_to_send(now):
            self.transport.send(out.link_id, out.channel, out.data)
        for event in self.engine.drain_events():
            if isinstance(event, LinkStateChanged):
                log.info("link %s: %s -> %s (%s)", event.link_id, event.old.value,
                         event.new.value, event.reason)
                self.host.notify_link_state_changed(event)

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
