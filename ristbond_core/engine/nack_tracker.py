"""Which missing packets to NACK, when, and when to give up: the receiver's ARQ state.

Each missing extended sequence number moves through a small table of states:

=========== ==================== ===========
state       input                next state
=========== ==================== ===========
waiting     timer (window over)  requested
waiting     arrived              reordered
requested   timer, retry left    requested
requested   timer, no retry      abandoned
requested   arrived              recovered
waiting     deadline too close   abandoned
requested   deadline too close   abandoned
any         released past        (removed)
=========== ==================== ===========

A gap is only NACKed after it outlives the reorder window (reordering across links
is not loss), retried every retry interval (about one RTT), and abandoned when a
retransmission could no longer arrive before the packet's playout deadline.
"""

from __future__ import annotations

import enum
import heapq
from dataclasses import dataclass


class ArqState(str, enum.Enum):
    """Where one missing packet stands."""

    WAITING = "waiting"
    REQUESTED = "requested"
    RECOVERED = "recovered"
    REORDERED = "reordered"
    ABANDONED = "abandoned"


class ArqInput(str, enum.Enum):
    """What can happen to a missing packet."""

    TIMER = "timer"
    TIMER_NO_RETRY = "timer_no_retry"
    ARRIVED = "arrived"
    TOO_LATE = "too_late"


ARQ_TRANSITIONS: dict[tuple[ArqState, ArqInput], ArqState] = {
    (ArqState.WAITING, ArqInput.TIMER): ArqState.REQUESTED,
    (ArqState.WAITING, ArqInput.TIMER_NO_RETRY): ArqState.ABANDONED,
    (ArqState.WAITING, ArqInput.ARRIVED): ArqState.REORDERED,
    (ArqState.WAITING, ArqInput.TOO_LATE): ArqState.ABANDONED,
    (ArqState.REQUESTED, ArqInput.TIMER): ArqState.REQUESTED,
    (ArqState.REQUESTED, ArqInput.TIMER_NO_RETRY): ArqState.ABANDONED,
    (ArqState.REQUESTED, ArqInput.ARRIVED): ArqState.RECOVERED,
    (ArqState.REQUESTED, ArqInput.TOO_LATE): ArqState.ABANDONED,
}


@dataclass(slots=True)
class Missing:
    """One missing packet: its state, next timer, retries so far and deadline."""

    state: ArqState
    due_ns: int
    deadline_ns: int
    retries: int = 0


@dataclass(slots=True)
class NackCounters:
    """Cumulative ARQ counters."""

    gaps_detected: int = 0
    reordered: int = 0
    recovered: int = 0
    requests: int = 0
    abandoned_deadline: int = 0
    abandoned_retries: int = 0


class NackTracker:
    """Missing extended seqs with timers; bounded by the caller's window."""

    def __init__(self) -> None:
        self._missing: dict[int, Missing] = {}
        self._timers: list[tuple[int, int]] = []  # (due_ns, seq); stale entries skipped
        # Every seq ever added, lowest first (stale ones skipped): ``forget_below`` pops
        # from the bottom instead of scanning every missing seq on each output packet.
        self._seqs: list[int] = []
        # Gaps seen since the last look at the timers: seq -> (due_ns, deadline_ns).
        # Links deliver in bursts, so most gaps close within the same batch of arrivals
        # (the next link's burst); those never need a timer. Any other call first files
        # what is still open here, with the times it was seen at, so nothing changes
        # but the work.
        self._fresh: dict[int, tuple[int, int]] = {}
        self.counters = NackCounters()

    def __len__(self) -> int:
        return len(self._missing) + len(self._fresh)

    def __contains__(self, seq: int) -> bool:
        return seq in self._missing or seq in self._fresh

    def add_gap(self, seq: int, now_ns: int, window_ns: int, deadline_ns: int) -> None:
        """``seq`` is missing as of ``now_ns``; NACK it once ``window_ns`` has passed."""
        if seq in self._missing or seq in self._fresh:
            return
        self._fresh[seq] = (now_ns + window_ns, deadline_ns)
        self.counters.gaps_detected += 1

    def _file_fresh(self) -> None:
        """Give every gap still open since the last look its timer."""
        fresh = self._fresh
        if not fresh:
            return
        missing = self._missing
        for seq, (due_ns, deadline_ns) in fresh.items():
            missing[seq] = Missing(ArqState.WAITING, due_ns, deadline_ns)
            heapq.heappush(self._timers, (due_ns, seq))
            heapq.heappush(self._seqs, seq)
        fresh.clear()

    def _move(self, seq: int, entry: Missing, event: ArqInput) -> ArqState:
        new = ARQ_TRANSITIONS[(entry.state, event)]
        entry.state = new
        if new in (ArqState.RECOVERED, ArqState.REORDERED, ArqState.ABANDONED):
            del self._missing[seq]
        return new

    def on_arrival(self, seq: int) -> ArqState | None:
        """``seq`` arrived: recovered (after a NACK) or reordered (before one)."""
        if self._fresh and self._fresh.pop(seq, None) is not None:
            # Waiting without a timer yet: the table's waiting + arrived.
            self.counters.reordered += 1
            return ARQ_TRANSITIONS[(ArqState.WAITING, ArqInput.ARRIVED)]
        entry = self._missing.get(seq)
        if entry is None:
            return None
        new = self._move(seq, entry, ArqInput.ARRIVED)
        if new is ArqState.RECOVERED:
            self.counters.recovered += 1
        else:
            self.counters.reordered += 1
        return new

    def forget_below(self, seq: int) -> int:
        """Output moved past ``seq``: drop older entries; returns how many were dropped."""
        self._file_fresh()
        dropped = 0
        while self._seqs and self._seqs[0] < seq:
            if self._missing.pop(heapq.heappop(self._seqs), None) is not None:
                dropped += 1
        return dropped

    def postpone_deadlines(self, deadlines: set[int], delta_ns: int) -> None:
        """Move the deadline of every gap whose deadline is one of ``deadlines`` by
        ``delta_ns`` (the receiver moved the playout time of the packets behind them)."""
        self._file_fresh()
        for entry in self._missing.values():
            if entry.deadline_ns in deadlines:
                entry.deadline_ns += delta_ns

    def clear(self) -> None:
        """Forget everything (flow reset)."""
        self._fresh.clear()
        self._missing.clear()
        self._timers.clear()
        self._seqs.clear()

    def next_due(self) -> int | None:
        """When the earliest timer fires, or None."""
        self._file_fresh()
        while self._timers:
            due, seq = self._timers[0]
            entry = self._missing.get(seq)
            if entry is not None and entry.due_ns == due:
                return due
            heapq.heappop(self._timers)
        return None

    def due(
        self, now_ns: int, retry_ns: int, max_retries: int, answer_ns: int
    ) -> list[int]:
        """Seqs to NACK now; each is rescheduled ``retry_ns`` later or abandoned.

        ``answer_ns`` is how long a retransmission takes to arrive (about one RTT): a
        packet whose deadline is nearer than that is abandoned rather than requested.
        """
        self._file_fresh()
        out: list[int] = []
        while self._timers and self._timers[0][0] <= now_ns:
            due, seq = heapq.heappop(self._timers)
            entry = self._missing.get(seq)
            if entry is None or entry.due_ns != due:
                continue
            if now_ns + answer_ns > entry.deadline_ns:
                self._move(seq, entry, ArqInput.TOO_LATE)
                self.counters.abandoned_deadline += 1
                continue
            if entry.retries >= max_retries:
                self._move(seq, entry, ArqInput.TIMER_NO_RETRY)
                self.counters.abandoned_retries += 1
                continue
            self._move(seq, entry, ArqInput.TIMER)
            entry.retries += 1
            entry.due_ns = now_ns + retry_ns
            heapq.heappush(self._timers, (entry.due_ns, seq))
            out.append(seq)
        self.counters.requests += len(out)
        return out
