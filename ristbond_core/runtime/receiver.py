"""The receiver's real-time loop: transport → ReceiverEngine → output, RTCP back out.

Released payloads are written as the engine hands them over (already paced by the
sender's timestamps plus the latency). On the first SIGINT/SIGTERM, or when the
duration ends, the loop keeps going until the buffer is empty or one latency has
passed, so the tail of the stream is not cut off; a second signal stops at once.
"""

from __future__ import annotations

import logging
import select
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from ristbond_core.engine.common import NS_PER_MS, NS_PER_S
from ristbond_core.engine.receiver import ReceiverEngine, ReceiverSettings
from ristbond_core.plugins import PluginHost
from ristbond_core.runtime.clock import WakeSpacing, now_ns, process_clock
from ristbond_core.runtime.driver import EngineDriver
from ristbond_core.runtime.meter import StreamMeter
from ristbond_core.runtime.outputs import Output, open_output
from ristbond_core.runtime.report import SnapshotPublisher, StatsJsonWriter
from ristbond_core.runtime.signals import SignalFlags
from ristbond_core.runtime.transport_api import ListenEndpoint, RuntimeTransport
from ristbond_core.runtime.urls import StreamUrl
from ristbond_core.telemetry.dispatch import TelemetryDispatcher
from ristbond_core.telemetry.health import HealthServer

log = logging.getLogger(__name__)

MAX_WAIT_NS = 50 * NS_PER_MS


@dataclass(slots=True)
class ReceiverPlan:
    """Everything ``ristbond receive`` resolved from its flags and config file."""

    settings: ReceiverSettings
    listen: list[ListenEndpoint]
    output_url: StreamUrl
    stats_json: str | None = None
    stats_interval_ms: int = 1000
    duration_s: float | None = None
    wake_interval_ms: float = 0.0


class ReceiverLoop(ABC):
    """The part of ``ristbond receive`` every transport kind shares: the output, the
    stop/duration/drain rules and the stats cadence. Subclasses move the data."""

    role = "receiver"
    plan: ReceiverPlan
    meter: StreamMeter
    output: Output | None
    publisher: SnapshotPublisher

    @abstractmethod
    def _listen(self) -> None:
        """Open the listen addresses."""

    @abstractmethod
    def _drained(self) -> bool:
        """Nothing is left to deliver (the drain after a stop may end early)."""

    @abstractmethod
    def _step(self, signals: SignalFlags, now: int, next_stats: int) -> None:
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

    def _open_stats_file(self) -> None:
        if self.plan.stats_json:
            self.publisher.stats_out = StatsJsonWriter(self.plan.stats_json)

    def run(self) -> int:
        """Listen, deliver, and stop on a signal or at the end of the duration."""
        try:
            return self._run()
        except BaseException:
            self.close()
            raise

    def _run(self) -> int:
        self._listen()
        self.output = open_output(self.plan.output_url)
        self._open_stats_file()
        start = now_ns()
        interval_ns = self.plan.stats_interval_ms * NS_PER_MS
        next_stats = start + interval_ns
        end = start + int(self.plan.duration_s * NS_PER_S) if self.plan.duration_s else None
        drain_until: int | None = None
        reason = "stopped"
        with SignalFlags() as signals:
            while True:
                now = now_ns()
                if signals.stop_requests > 1:
                    break
                if drain_until is None and (signals.stop_requests or
                                            (end is not None and now >= end)):
                    reason = signals.stop_signal or "duration"
                    drain_until = now + self.plan.settings.latency_ms * NS_PER_MS
                if drain_until is not None and (now >= drain_until or self._drained()):
                    break
                self._step(signals, now, next_stats)
                now = now_ns()
                if now >= next_stats:
                    self._snapshot(now)
                    next_stats = max(next_stats + interval_ns, now)
        self._finish(reason)
        return 0

    def _deliver(self, payloads: Sequence[bytes]) -> None:
        assert self.output is not None
        for payload in payloads:
            self.meter.add(payload)
            self.output.write(payload)
        if payloads:
            self.output.flush()

    def _close_output(self) -> None:
        if self.output is not None:
            self.output.close()
            self.output = None


class ReceiverRuntime(EngineDriver, ReceiverLoop):
    """Drives one ReceiverEngine over a datagram transport until stopped."""

    engine: ReceiverEngine

    def __init__(self, plan: ReceiverPlan, host: PluginHost, transport: RuntimeTransport,
                 *, telemetry: TelemetryDispatcher | None = None,
                 health: HealthServer | None = None) -> None:
        self.plan = plan
        self.host = host
        self.transport = transport
        self.engine = ReceiverEngine(plan.settings, ntp_clock=process_clock(), now_ns=now_ns())
        self.meter = StreamMeter()
        self.output = None
        self.spacing = WakeSpacing(int(plan.wake_interval_ms * NS_PER_MS))
        self.publisher = SnapshotPublisher(host, telemetry, health)

    def _listen(self) -> None:
        for endpoint in self.plan.listen:
            self.transport.listen(endpoint)

    def _drained(self) -> bool:
        return self.engine.buffered_packets == 0

    def _step(self, signals: SignalFlags, now: int, next_stats: int) -> None:
        wake = [now + MAX_WAIT_NS, next_stats]
        deadline = self.engine.next_deadline()
        if deadline is not None:
            wake.append(deadline)
        now = self.spacing.settle(now)
        timeout = max(0, min(wake) - now) / NS_PER_S
        ready, _, _ = select.select([signals.fileno(), *self.transport.filenos()], [], [],
                                    timeout)
        self.spacing.woke(now_ns())
        if signals.fileno() in ready:
            signals.drain()
        now = self._take_datagrams()
        self.engine.on_deadline(now)
        self._deliver(self.engine.pop_output())
        self._flush(now)

    def close(self) -> None:
        """Flush and close the output, the sockets and the stats file."""
        self._close_output()
        super().close()
