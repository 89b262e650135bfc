"""The sender's real-time loop: input → SenderEngine → transport, RTCP back in.

One ``select`` waits on the transport's sockets, a readable input and the signal
wake-up; its timeout is the earliest of the engine's ``next_deadline()``, a paced
input's next chunk and the next stats snapshot. Every batch is bounded, so a flood on
one socket cannot starve timers or the other sockets.
"""

from __future__ import annotations

import logging
import random
import secrets
import select
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from ristbond_core.config.load import load_config
from ristbond_core.config.models import LinkConfig
from ristbond_core.contracts import Scheduler
from ristbond_core.engine.common import NS_PER_MS, NS_PER_S
from ristbond_core.engine.sender import SenderEngine, SenderSettings
from ristbond_core.errors import RistbondError
from ristbond_core.plugins import PluginHost
from ristbond_core.runtime.backends import merge_links
from ristbond_core.runtime.clock import WakeSpacing, now_ns, process_clock
from ristbond_core.runtime.driver import EngineDriver
from ristbond_core.runtime.inputs import Input, open_input
from ristbond_core.runtime.meter import StreamMeter
from ristbond_core.runtime.report import SnapshotPublisher, StatsJsonWriter
from ristbond_core.runtime.signals import SignalFlags
from ristbond_core.runtime.transport_api import RuntimeTransport
from ristbond_core.runtime.urls import StreamUrl, link_endpoint
from ristbond_core.telemetry.dispatch import TelemetryDispatcher
from ristbond_core.telemetry.health import HealthServer

log = logging.getLogger(__name__)

#: The loop never sleeps longer than this, whatever the deadlines say.
MAX_WAIT_NS = 50 * NS_PER_MS
#: Input datagrams handed to the engine per loop iteration at most.
INPUT_BATCH = 256


@dataclass(slots=True)
class SenderPlan:
    """Everything ``ristbond send`` resolved from its flags and config file."""

    settings: SenderSettings
    input_url: StreamUrl
    bitrate_kbps: int
    links: dict[str, LinkConfig]
    pacing: str = "bitrate"
    cli_links: list[LinkConfig] = field(default_factory=list)
    config_path: Path | None = None
    stats_json: str | None = None
    stats_interval_ms: int = 1000
    duration_s: float | None = None
    wake_interval_ms: float = 0.0


class SenderLoop(ABC):
    """The part of ``ristbond send`` every transport kind shares: links from config and
    SIGHUP, the input, the stop/duration/linger rules and the stats cadence.

    Subclasses move the data: the engine sender runs the RIST protocol over a datagram
    transport; the session sender hands payloads to a session transport (librist).
    """

    role = "sender"
    plan: SenderPlan
    host: PluginHost
    meter: StreamMeter
    links: dict[str, LinkConfig]
    input: Input | None
    spacing: WakeSpacing

    # -- what subclasses provide --------------------------------------------------------
    @abstractmethod
    def attach(self, link: LinkConfig, now: int) -> None:
        """Open a link and add it to the bond."""

    @abstractmethod
    def detach(self, link_id: str, now: int) -> None:
        """Take a link out of the bond and close it."""

    @abstractmethod
    def set_link_weight(self, link_id: str, weight: float) -> None:
        """A configured link weight changed on reload."""

    @abstractmethod
    def _step(self, signals: SignalFlags, now: int, input_open: bool, next_stats: int,
              end: int | None) -> None:
        """One pass of the loop: move data, serve timers, publish stats when due."""

    @abstractmethod
    def _snapshot(self, now: int) -> dict[str, object]:
        """One stats snapshot in the versioned schema."""

    @abstractmethod
    def _finish(self, reason: str) -> None:
        """Print the final line and close."""

    @abstractmethod
    def close(self) -> None:
        """Release everything."""

    # -- links ------------------------------------------------------------------------
    def reload_links(self, now: int) -> None:
        """SIGHUP: make the link set match the config file's ``[[links]]`` (+ ``--link``)."""
        if self.plan.config_path is None:
            log.warning("SIGHUP ignored: no --config file to re-read links from")
            return
        try:
            config = load_config(self.plan.config_path, host=self.host)
        except RistbondError as exc:
            print(f"ristbond send: reload failed, keeping the current links: {exc}",
                  file=sys.stderr)
            return
        wanted = merge_links(config.links, self.plan.cli_links)
        for link_id in [i for i, old in self.links.items()
                        if i not in wanted or _moved(old, wanted[i])]:
            self.detach(link_id, now)
        for link_id, link in wanted.items():
            if link_id in self.links:
                if self.links[link_id].weight != link.weight:
                    self.set_link_weight(link_id, link.weight)
                    self.links[link_id] = link
                continue
            try:
                self.attach(link, now)
            except RistbondError as exc:
                print(f"ristbond send: cannot add link {link_id!r}: {exc}", file=sys.stderr)
        print(f"ristbond send: links now {', '.join(self.links) or 'none'}", file=sys.stderr)

    # -- the loop -----------------------------------------------------------------------
    def run(self) -> int:
        """Run until a signal, the duration or the end of a finite input (+ a grace time)."""
        try:
            return self._run()
        except BaseException:
            self.close()
            raise

    def _start_links(self, now: int) -> None:
        for link in self.plan.links.values():
            self.attach(link, now)

    def _run(self) -> int:
        start = now_ns()
        self._start_links(start)
        self.input = open_input(self.plan.input_url, bitrate_kbps=self.plan.bitrate_kbps,
                                payload_bytes=self.plan.settings.payload_bytes, now_ns=start,
                                pacing=self.plan.pacing)
        interval_ns = self.plan.stats_interval_ms * NS_PER_MS
        next_stats = start + interval_ns
        end = start + int(self.plan.duration_s * NS_PER_S) if self.plan.duration_s else None
        # After the input ends, keep answering NACKs for one latency.
        linger_ns = self.plan.settings.latency_ms * NS_PER_MS
        input_open = True
        reason = "stopped"
        with SignalFlags() as signals:
            while True:
                now = now_ns()
                if signals.stop_requests:
                    reason = signals.stop_signal or "signal"
                    break
                if signals.reload_pending:
                    signals.reload_pending = False
                    self.reload_links(now)
                if input_open and ((end is not None and now >= end) or self.input.finished):
                    input_open = False
                    reason = "end of input" if self.input.finished else "duration"
                    end = now + linger_ns
                elif not input_open and end is not None and now >= end:
                    break
                self._step(signals, now, input_open, next_stats, end)
                now = now_ns()
                if now >= next_stats:
                    self._snapshot(now)
                    next_stats = max(next_stats + interval_ns, now)
        self._finish(reason)
        return 0

    def _wait(self, signals: SignalFlags, now: int, input_open: bool,
              deadlines: list[int | None], fds: list[int]) -> tuple[list[int], int | None]:
        """Sleep until a descriptor is ready or the earliest deadline; return the ready
        descriptors and the input's descriptor (None when timed or closed)."""
        assert self.input is not None
        wake = [now + MAX_WAIT_NS]
        wake.extend(d for d in (*deadlines, self.input.next_ready_ns() if input_open else None)
                    if d is not None)
        now = self.spacing.settle(now)
        timeout = max(0, min(wake) - now) / NS_PER_S
        readers = [signals.fileno(), *fds]
        input_fd = self.input.fileno() if input_open else None
        if input_fd is not None:
            readers.append(input_fd)
        ready, _, _ = select.select(readers, [], [], timeout)
        self.spacing.woke(now_ns())
        if signals.fileno() in ready:
            signals.drain()
        return ready, input_fd

    def _read_input(self, ready: list[int], input_fd: int | None, input_open: bool,
                    now: int) -> list[bytes]:
        """The input datagrams available now (metered)."""
        assert self.input is not None
        if not input_open or (input_fd is not None and input_fd not in ready):
            return []
        payloads = self.input.read(now, INPUT_BATCH)
        for payload in payloads:
            self.meter.add(payload)
        return payloads

    def _close_input(self) -> None:
        if self.input is not None:
            self.input.close()


class SenderRuntime(EngineDriver, SenderLoop):
    """Drives one SenderEngine over a datagram transport until stopped."""

    engine: SenderEngine

    def __init__(self, plan: SenderPlan, host: PluginHost, scheduler: Scheduler,
                 transport: RuntimeTransport,
                 *, telemetry: TelemetryDispatcher | None = None,
                 health: HealthServer | None = None) -> None:
        self.plan = plan
        self.host = host
        self.transport = transport
        start = now_ns()
        self.engine = SenderEngine(plan.settings, scheduler, ntp_clock=process_clock(),
                                   now_ns=start, rng=random.Random(secrets.randbits(64)))
        self.meter = StreamMeter()
        self.links = {}
        self.input = None
        self.spacing = WakeSpacing(int(plan.wake_interval_ms * NS_PER_MS))
        self.publisher = SnapshotPublisher(host, telemetry, health)
        if plan.stats_json:
            self.publisher.stats_out = StatsJsonWriter(plan.stats_json)

    def attach(self, link: LinkConfig, now: int) -> None:
        """Open a link's sockets and add it to the bond."""
        self.transport.open_link(link_endpoint(link))
        self.engine.add_link(link.id, now, weight=link.weight)
        self.links[link.id] = link

    def detach(self, link_id: str, now: int) -> None:
        """Take a link out of the bond and close its sockets."""
        self.engine.remove_link(link_id, now)
        self.transport.close_link(link_id)
        del self.links[link_id]

    def set_link_weight(self, link_id: str, weight: float) -> None:
        """A configured link weight changed on reload."""
        self.engine.set_weight(link_id, weight)

    def _step(self, signals: SignalFlags, now: int, input_open: bool, next_stats: int,
              end: int | None) -> None:
        ready, input_fd = self._wait(signals, now, input_open,
                                     [next_stats, self.engine.next_deadline(), end],
                                     list(self.transport.filenos()))
        now = self._take_datagrams()
        for payload in self._read_input(ready, input_fd, input_open, now):
            self.engine.send_payload(payload, now)
        self.engine.on_deadline(now)
        self._flush(now)

    def close(self) -> None:
        """Release the input, the sockets and the stats file."""
        self._close_input()
        super().close()


def _moved(old: LinkConfig, new: LinkConfig) -> bool:
    """Whether a link's sockets must be reopened (address, interface or options changed)."""
    return (old.url, old.interface, old.source, old.options) != \
        (new.url, new.interface, new.source, new.options)
