"""The process-wide time base: monotonic ns for everything, wall time only for display.

The NTP mapping is sampled once per process, so a wall-clock jump never moves the
timestamps the engines put on the wire.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from operator import attrgetter

from ristbond_core.contracts import ReceivedDatagram
from ristbond_core.engine.common import NS_PER_S
from ristbond_core.wire import NtpClock

#: A stalled process does not make up more than this much pacing backlog in a burst.
MAX_PACING_BACKLOG_NS = NS_PER_S


@functools.cache
def process_clock() -> NtpClock:
    """The one NTP clock of this process (monotonic + a fixed offset)."""
    return NtpClock.from_sample(time.monotonic_ns(), time.time_ns())


def now_ns() -> int:
    """The monotonic clock in integer ns."""
    return time.monotonic_ns()


#: The derived wake interval is this fraction of the latency ...
WAKE_INTERVAL_LATENCY_FRACTION = 1 / 200
#: ... and never more than this.
MAX_DERIVED_WAKE_INTERVAL_MS = 5.0


def wake_interval_ms(configured: float | None, latency_ms: int) -> float:
    """The configured wake interval, or one derived from the latency: timers may fire
    up to one interval late, so it is kept to half a percent of the latency."""
    if configured is not None:
        return configured
    return min(MAX_DERIVED_WAKE_INTERVAL_MS, latency_ms * WAKE_INTERVAL_LATENCY_FRACTION)


class WakeSpacing:
    """Keeps a loop's wake-ups at least ``interval_ns`` apart.

    Every wake-up costs a ``select`` and two context switches whether it finds one
    datagram or twenty; at 50 Mbit/s a datagram arrives every 0.2 ms, so waking for each
    one spends most of the loop's CPU on waking. Sleeping out the rest of the interval
    first lets the kernel queue what arrives meanwhile and one pass handles it all. The
    transport stamps each datagram on arrival, so the batching does not blur timing;
    timers fire up to one interval late, which engines measuring in milliseconds absorb.
    ``interval_ns`` 0 wakes for every event.
    """

    def __init__(self, interval_ns: int) -> None:
        self.interval_ns = interval_ns
        self._last_ns: int | None = None

    def settle(self, now: int) -> int:
        """Sleep until the interval since the last wake-up is over; the time after."""
        if self._last_ns is None or not self.interval_ns:
            return now
        due = self._last_ns + self.interval_ns
        if now >= due:
            return now
        time.sleep((due - now) / NS_PER_S)
        return now_ns()

    def woke(self, now: int) -> None:
        """The loop woke (its wait returned) at ``now``."""
        self._last_ns = now


def arrival_order(datagrams: Iterable[ReceivedDatagram], floor_ns: int,
                  now: int) -> list[tuple[ReceivedDatagram, int]]:
    """Datagrams of one pass in arrival order, each with the time to hand the engine.

    A pass reads several sockets one after another, so their datagrams are sorted by
    arrival. Times are kept within ``[floor_ns, now]``: an engine never sees time run
    backwards (``floor_ns`` is the last time it was given), nor a time later than the
    pass's own ``now``, whatever a stamp from another clock says.
    """
    ordered = sorted(datagrams, key=attrgetter("received_ns"))
    out: list[tuple[ReceivedDatagram, int]] = []
    for datagram in ordered:
        floor_ns = min(max(datagram.received_ns, floor_ns), now)
        out.append((datagram, floor_ns))
    return out
