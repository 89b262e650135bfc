"""Time-windowed min/max and sums in bounded memory (a fixed number of time buckets).

Estimators and the lifecycle keep "the minimum RTT over the last 60 s" or "packets
lost over the last 2 s". Storing every sample would grow with the feedback rate, which
a peer controls; here the window is split into ``buckets`` slots, so memory is constant
and the answer is exact to within one bucket width of window edge.
"""

from __future__ import annotations

from collections import deque


def _bucket_width_ns(window_ns: int, buckets: int) -> int:
    if window_ns <= 0:
        raise ValueError(f"window must be positive, got {window_ns} ns")
    if buckets < 1:
        raise ValueError(f"need at least one bucket, got {buckets}")
    return max(1, window_ns // buckets)


class _BucketWindow:
    """A ring of time buckets covering ``window_ns``; each bucket folds its samples.

    Memory is fixed (``buckets`` slots) whatever the sample rate; a clock that steps
    backwards lands in the newest bucket instead of reordering the ring.
    """

    def __init__(self, window_ns: int, buckets: int) -> None:
        self._width_ns = _bucket_width_ns(window_ns, buckets)
        self._buckets = buckets
        self._slots: deque[tuple[int, float]] = deque()
        self._last_index = 0
        # The folded answer, valid while no sample was added and no bucket expired:
        # estimators read these windows far more often than they add to them.
        self._answer: float | None = None
        self._answer_valid = False

    def _fold(self, old: float, new: float) -> float:
        raise TypeError("subclasses define how samples in one bucket combine")

    def _add(self, value: float, now_ns: int) -> None:
        index = self._current(now_ns)
        slots = self._slots
        if slots and slots[-1][0] == index:
            slots[-1] = (index, self._fold(slots[-1][1], value))
        else:
            slots.append((index, value))
        if self._answer_valid:
            # Folding is associative: the cached answer takes the sample directly.
            self._answer = value if self._answer is None else self._fold(self._answer, value)

    def _current(self, now_ns: int) -> int:
        index = now_ns // self._width_ns
        if index <= self._last_index:
            # Still the newest bucket (or a step back): whatever could expire has.
            return self._last_index
        self._last_index = index
        oldest = index - self._buckets
        while self._slots and self._slots[0][0] <= oldest:
            self._slots.popleft()
            self._answer_valid = False
        return self._last_index

    def _folded(self, now_ns: int) -> float | None:
        """All buckets in the window folded into one answer; None when empty."""
        self._current(now_ns)
        if not self._answer_valid:
            self._answer = self._fold_all([value for _, value in self._slots])
            self._answer_valid = True
        return self._answer

    def _fold_all(self, values: list[float]) -> float | None:
        raise TypeError("subclasses define how buckets combine")

    def reset(self) -> None:
        """Forget every sample."""
        self._slots.clear()
        self._answer_valid = False


class WindowedExtremum(_BucketWindow):
    """Minimum (or maximum) of the samples seen in the last ``window_ns``."""

    def __init__(self, window_ns: int, *, maximum: bool = False, buckets: int = 8) -> None:
        super().__init__(window_ns, buckets)
        self._maximum = maximum

    def _fold(self, old: float, new: float) -> float:
        return max(old, new) if self._maximum else min(old, new)

    def update(self, value: float, now_ns: int) -> None:
        """Add one sample taken at ``now_ns``.

        The per-packet path (several windows per packet received): a sample that does
        not beat its bucket's extremum changes nothing and is dropped early.
        """
        index = self._current(now_ns)
        slots = self._slots
        maximum = self._maximum
        if slots and slots[-1][0] == index:
            held = slots[-1][1]
            if (value <= held) if maximum else (value >= held):
                return
            slots[-1] = (index, value)
        else:
            slots.append((index, value))
        if self._answer_valid:
            answer = self._answer
            if answer is None or ((value > answer) if maximum else (value < answer)):
                self._answer = value

    def _fold_all(self, values: list[float]) -> float | None:
        if not values:
            return None
        return max(values) if self._maximum else min(values)

    def value(self, now_ns: int) -> float | None:
        """The extremum over the window ending at ``now_ns``; None when it is empty."""
        return self._folded(now_ns)


class WindowedSum(_BucketWindow):
    """Sum of the amounts added in the last ``window_ns``."""

    def __init__(self, window_ns: int, *, buckets: int = 8) -> None:
        super().__init__(window_ns, buckets)

    def _fold(self, old: float, new: float) -> float:
        return old + new

    def add(self, amount: float, now_ns: int) -> None:
        """Add ``amount`` at ``now_ns``."""
        self._add(amount, now_ns)

    def _fold_all(self, values: list[float]) -> float | None:
        return float(sum(values))

    def total(self, now_ns: int) -> float:
        """Sum over the window ending at ``now_ns``."""
        return self._folded(now_ns) or 0.0
