"""Bounded time windows: exact extremes and sums, constant memory."""

from __future__ import annotations

import pytest

from ristbond_core.engine.windowed import WindowedExtremum, WindowedSum

MS = 1_000_000


def test_windowed_min_expires_old_samples() -> None:
    window = WindowedExtremum(800 * MS)
    window.update(5.0, 0)
    window.update(9.0, 500 * MS)
    assert window.value(500 * MS) == 5.0
    assert window.value(900 * MS) == 9.0
    assert window.value(2_000 * MS) is None


def test_windowed_max_keeps_the_largest() -> None:
    window = WindowedExtremum(1_000 * MS, maximum=True)
    for i, value in enumerate([3.0, 7.0, 4.0]):
        window.update(value, i * 100 * MS)
    assert window.value(300 * MS) == 7.0


def test_windowed_memory_is_bounded_by_buckets() -> None:
    window = WindowedExtremum(1_000 * MS, buckets=8)
    for i in range(100_000):
        window.update(float(i), i * 10_000)
    assert len(window._slots) <= 9


def test_windowed_sum_over_the_window() -> None:
    total = WindowedSum(1_000 * MS)
    total.add(3, 0)
    total.add(4, 600 * MS)
    assert total.total(600 * MS) == 7
    assert total.total(1_400 * MS) == 4  # the first sample aged out, the second did not
    total.reset()
    assert total.total(1_500 * MS) == 0


@pytest.mark.parametrize(("window_ns", "buckets"), [(0, 8), (MS, 0)])
def test_windowed_rejects_nonsense_shapes(window_ns: int, buckets: int) -> None:
    with pytest.raises(ValueError, match=r"window|bucket"):
        WindowedExtremum(window_ns, buckets=buckets)
