"""The process-wide time base: monotonic ns for everything, wall time only for display.

The NTP mapping is sampled once per process, so a wall-clock jump never moves the
timestamps the engines put on the wire.
"""

from __future__ import annotations

import functools
import time

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
