"""Fan stats snapshots out to several exporters without ever stalling the data path.

Each exporter runs on its own worker thread behind a bounded queue, so
``dispatch()`` only does a non-blocking ``put`` per exporter; when a queue is full
the oldest snapshot in it is dropped (counted). An exporter that raises, or whose
queue is full while one snapshot has kept it busy for ``stall_timeout_s``, fails; it is
logged once (the first failure) and detached after ``max_failures`` consecutive
failures, so a broken exporter costs nothing from then on and the healthy ones go on.

Snapshots are shared between exporters, not copied: exporters must treat them as
read-only (the engines build a fresh snapshot for every ``stats()`` call).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ristbond_core.config.redact import redact_text
from ristbond_core.contracts import TelemetryExporter

if TYPE_CHECKING:
    from ristbond_core.config.models import TelemetrySection
    from ristbond_core.plugins import PluginHost

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 16
DEFAULT_MAX_FAILURES = 5
# A full queue counts as a failure only once one export has been running this long.
DEFAULT_STALL_TIMEOUT_S = 5.0
# How often an idle worker looks at its stop flag (bounds close() latency).
IDLE_POLL_S = 0.1


@dataclass(slots=True)
class ExporterStatus:
    """Counters of one exporter behind the dispatcher."""

    name: str
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    consecutive_failures: int = 0
    detached: bool = False
    closed: bool = False


class _Worker:
    """One exporter, its queue and its thread."""

    def __init__(self, name: str, exporter: TelemetryExporter, queue_size: int,
                 max_failures: int, stall_timeout_s: float) -> None:
        self.name = name
        self.exporter = exporter
        self.status = ExporterStatus(name)
        self.max_failures = max_failures
        self.stall_timeout_s = stall_timeout_s
        #: When the export in progress started; None while the worker waits for work.
        self.busy_since: float | None = None
        self._drop_logged = False
        self.queue: queue.Queue[Mapping[str, Any]] = queue.Queue(maxsize=queue_size)
        self.stopping = threading.Event()  # drain what is queued, then stop
        self.abandon = threading.Event()  # stop at once, skip what is queued
        self._lock = threading.Lock()
        self._logged = False
        self.thread = threading.Thread(
            target=self._run, name=f"ristbond-telemetry-{name}", daemon=True
        )
        self.thread.start()

    def offer(self, snapshot: Mapping[str, Any]) -> None:
        """Queue ``snapshot`` without waiting; when full, the oldest queued one gives way.

        A full queue alone is a burst, not a fault: only when the exporter has also been
        stuck on one snapshot for ``stall_timeout_s`` does it count as a failure.
        """
        if self.status.detached:
            return
        try:
            self.queue.put_nowait(snapshot)
            return
        except queue.Full:
            pass
        # The newest snapshot matters most to an operator: make room by dropping the oldest.
        lost = 0
        try:
            self.queue.get_nowait()
            lost += 1
        except queue.Empty:
            pass  # the worker took it meanwhile
        try:
            self.queue.put_nowait(snapshot)
        except queue.Full:
            lost += 1
        with self._lock:
            self.status.dropped += lost
        busy_since = self.busy_since
        stalled_s = 0.0 if busy_since is None else time.monotonic() - busy_since
        if stalled_s >= self.stall_timeout_s:
            self._fail(f"queue full ({self.queue.maxsize} snapshots) and one snapshot has "
                       f"taken {stalled_s:.1f} s so far: exporter too slow")
        elif not self._drop_logged:
            self._drop_logged = True
            log.warning("telemetry exporter %r is slower than snapshots arrive: dropping the "
                        "oldest queued snapshots", self.name)

    def _fail(self, cause: str, exc: BaseException | None = None) -> None:
        with self._lock:
            self.status.failed += 1
            self.status.consecutive_failures += 1
            first = not self._logged
            self._logged = True
            detach = (not self.status.detached
                      and self.status.consecutive_failures >= self.max_failures)
            if detach:
                self.status.detached = True
        if first:
            # The traceback is rendered here, redacted, so a secret in an exception
            # message cannot reach a log handler that does not redact.
            trace = "".join(traceback.format_exception(exc)) if exc is not None else ""
            log.warning("telemetry exporter %r failed: %s%s", self.name, redact_text(cause),
                        "\n" + redact_text(trace).rstrip() if trace else "")
        if detach:
            log.error("telemetry exporter %r detached after %d consecutive failures",
                      self.name, self.max_failures)
            self.abandon.set()

    def _run(self) -> None:
        # Bounded by the stop flags: every wait has a timeout and close() sets them.
        while not self.abandon.is_set():
            try:
                snapshot = self.queue.get(timeout=IDLE_POLL_S)
            except queue.Empty:
                if self.stopping.is_set():
                    break
                continue
            if self.abandon.is_set():
                break
            self.busy_since = time.monotonic()
            try:
                self.exporter.export(snapshot)
            except Exception as exc:  # an exporter's bug must not reach the data path
                self._fail(f"{type(exc).__name__}: {exc}", exc)
                continue
            finally:
                self.busy_since = None
            with self._lock:
                self.status.delivered += 1
                self.status.consecutive_failures = 0
        try:
            self.exporter.close()
        except Exception as exc:
            log.warning("telemetry exporter %r failed to close: %s", self.name,
                        redact_text(f"{type(exc).__name__}: {exc}"))
        self.status.closed = True


class TelemetryDispatcher:
    """Hands each snapshot to every attached exporter; never blocks, never raises."""

    def __init__(
        self,
        exporters: Mapping[str, TelemetryExporter],
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        max_failures: int = DEFAULT_MAX_FAILURES,
        stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
    ) -> None:
        if queue_size < 1 or max_failures < 1 or stall_timeout_s < 0:
            raise ValueError("queue_size and max_failures must be at least 1, "
                             "stall_timeout_s not negative")
        self._workers = [
            _Worker(name, exporter, queue_size, max_failures, stall_timeout_s)
            for name, exporter in exporters.items()
        ]
        self._closed = False

    def dispatch(self, snapshot: Mapping[str, Any]) -> None:
        """Offer ``snapshot`` to every exporter that is still attached (O(exporters))."""
        if self._closed:
            return
        for worker in self._workers:
            worker.offer(snapshot)

    def status(self) -> list[ExporterStatus]:
        """A copy of every exporter's counters, in attach order."""
        return [ExporterStatus(**_fields(w.status)) for w in self._workers]

    def exporter(self, name: str) -> TelemetryExporter | None:
        """The exporter called ``name`` (e.g. to serve ``otel``'s Prometheus text elsewhere)."""
        return next((w.exporter for w in self._workers if w.name == name), None)

    @property
    def attached(self) -> list[str]:
        """Names of the exporters not detached."""
        return [w.name for w in self._workers if not w.status.detached]

    def close(self, timeout_s: float = 2.0) -> list[str]:
        """Flush queued snapshots and close every exporter, waiting at most ``timeout_s``.

        Returns the names of exporters that did not finish in time; their threads are
        daemons told to stop at their next snapshot, so they cannot keep the process up.
        """
        self._closed = True
        for worker in self._workers:
            worker.stopping.set()
        deadline = time.monotonic() + max(0.0, timeout_s)
        late: list[str] = []
        for worker in self._workers:
            worker.thread.join(max(0.0, deadline - time.monotonic()))
            if worker.thread.is_alive():
                worker.abandon.set()
                late.append(worker.name)
        if late:
            log.warning("telemetry exporters still busy after %.1f s: %s",
                        timeout_s, ", ".join(late))
        return late

    def __enter__(self) -> TelemetryDispatcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _fields(status: ExporterStatus) -> dict[str, Any]:
    return {name: getattr(status, name) for name in ExporterStatus.__slots__}


def build_dispatcher(
    host: PluginHost, section: TelemetrySection, **kwargs: Any
) -> TelemetryDispatcher:
    """Create the exporters ``[telemetry]`` selects (options validated) behind a dispatcher.

    An exporter whose factory fails is a user error (``RistbondError`` from the
    factory) and propagates; the exporters built before it are closed first.
    """
    built: dict[str, TelemetryExporter] = {}
    try:
        for index, name in enumerate(section.exporters):
            options = host.validate_options(
                "telemetry", name, section.options.get(name, {}),
                f"telemetry.exporters[{index}]", f"telemetry.options.{name}",
            )
            backend = host.require("telemetry", name, f"telemetry.exporters[{index}]")
            built[name] = backend.factory(options)
    except BaseException:
        for exporter in built.values():
            exporter.close()
        raise
    return TelemetryDispatcher(built, **kwargs)
