"""A continuous engine clock on top of the caller's clock, which may step.

Engines keep times (a packet's playout time, the next RTCP, when a link was last heard,
the buckets of windowed estimators) and compare them with later readings. When the
caller's clock steps (a clock set by hand or by NTP, a restored virtual machine), every
stored time is wrong at once: a step back freezes every timer for the size of the step,
a step forward fires them all and makes buffered media overdue.

:class:`EngineClock` maps each reading onto a continuous engine time. A reading earlier
than the previous one can only be a step (time never runs backwards), so it is absorbed
whole, as if no time had passed between the two readings. A step forward cannot be told
from the process having been descheduled (a stall) by the readings alone, so it is only
absorbed when the engine decides to (:meth:`EngineClock.absorb`), and it can be given
back (:meth:`EngineClock.give_back`) when later evidence says the time really passed.
"""

from __future__ import annotations


class EngineClock:
    """Caller time in, continuous engine time out: ``engine = caller − offset``."""

    def __init__(self, now_ns: int) -> None:
        self.offset_ns = 0
        #: Engine time of the latest reading.
        self.last_ns = now_ns
        #: Backward steps absorbed so far.
        self.backward_steps = 0

    def read(self, caller_ns: int) -> int:
        """Engine time for the caller's reading ``caller_ns``; never earlier than the last."""
        now = caller_ns - self.offset_ns
        if now < self.last_ns:
            self.offset_ns = caller_ns - self.last_ns
            self.backward_steps += 1
            now = self.last_ns
        self.last_ns = now
        return now

    def peek(self, caller_ns: int) -> int:
        """Engine time for ``caller_ns`` without taking it as a reading (for observers:
        a stats snapshot must not hide a jump from the engine or count a step)."""
        return max(self.last_ns, caller_ns - self.offset_ns)

    def absorb(self, amount_ns: int) -> int:
        """Take the last ``amount_ns`` of the latest reading as a forward step of the
        caller's clock, not as elapsed time; returns the corrected engine time."""
        self.offset_ns += amount_ns
        self.last_ns -= amount_ns
        return self.last_ns

    def give_back(self, amount_ns: int) -> int:
        """Undo an :meth:`absorb` of ``amount_ns``: that time did pass after all."""
        self.offset_ns -= amount_ns
        self.last_ns += amount_ns
        return self.last_ns

    def to_caller(self, engine_ns: int) -> int:
        """The caller's reading at engine time ``engine_ns`` (for deadlines handed out)."""
        return engine_ns + self.offset_ns
