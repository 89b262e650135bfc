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


class WindowedExtremum:
    """Minimum (or maximum) of the samples seen in the last ``window_ns``."""

    def __init__(self, window_ns: int, *, maximum: bool = False, buckets: int = 8) -> None:
        self._width_ns = _bucket_width_ns(window_ns, buckets)
        self._buckets = buckets
        self._maximum = maximum
        self._slots: deque[tuple[int, float]] = deque()
        self._last_index = 0

    def _index(self, now_ns: int) -> int:
        # A clock that steps backwards lands in the newest bucket instead of reordering.
        self._last_index = max(self._last_index, now_ns // self._width_ns)
        return self._last_index

    def _expire(self, index: int) -> None:
        while self._slots and self._slots[0][0] <= index - self._buckets:
            self._slots.popleft()

    def update(self, value: float, now_ns: int) -> None:
        """Add one sample taken at ``now_ns``."""
        index = self._index(now_ns)
        self._expire(index)
        if self._slots and self._slots[-1][0] == index:
            old = self._slots[-1][1]
            best = max(old, value) if self._maximum else min(old, value)
            self._slots[-1] = (index, best)
        else:
            self._slots.append((index, value))

    def value(self, now_ns: int) -> float | None:
        """The extremum over the window ending at ``now_ns``; None when it is empty."""
        self._expire(self._index(now_ns))
        if not self._slots:
            return None
        values = [v for _, v in self._slots]
        return max(values) if self._maximum else min(values)

    def reset(self) -> None:
        """Forget every sample."""
        self._slots.clear()


class WindowedSum:
    """Sum of the amounts added in the last ``window_ns``."""

    def __init__(self, window_ns: int, *, buckets: int = 8) -> None:
        self._width_ns = _bucket_width_ns(window_ns, buckets)
        self._buckets = buckets
        self._slots: deque[tuple[int, float]] = deque()
        self._last_index = 0

    def _index(self, now_ns: int) -> int:
        self._last_index = max(self._last_index, now_ns // self._width_ns)
        return self._last_index

    def _expire(self, index: int) -> None:
        while self._slots and self._slots[0][0] <= index - self._buckets:
            self._slots.popleft()

    def add(self, amount: float, now_ns: int) -> None:
        """Add ``amount`` at ``now_ns``."""
        index = self._index(now_ns)
        self._expire(index)
        if self._slots and self._slots[-1][0] == index:
            self._slots[-1] = (index, self._slots[-1][1] + amount)
        else:
            self._slots.append((index, amount))

    def total(self, now_ns: int) -> float:
        """Sum over the window ending at ``now_ns``."""
        self._expire(self._index(now_ns))
        return sum(slot[1] for slot in self._slots)

    def reset(self) -> None:
        """Forget everything."""
        self._slots.clear()
