"""The receiver's ARQ state per missing packet (``NackTracker``)."""

from __future__ import annotations

from ristbond_core.engine.common import NS_PER_MS
from ristbond_core.engine.nack_tracker import ArqState, NackTracker

WINDOW = 20 * NS_PER_MS
RETRY = 50 * NS_PER_MS
DEADLINE = 1_000 * NS_PER_MS


def test_a_gap_that_closes_before_any_timer_is_read_is_reordering() -> None:
    tracker = NackTracker()
    for seq in (2, 4, 6):
        tracker.add_gap(seq, 0, WINDOW, DEADLINE)
    assert len(tracker) == 3
    assert 4 in tracker
    assert tracker.on_arrival(4) is ArqState.REORDERED
    assert tracker.on_arrival(4) is None  # only once
    assert 4 not in tracker
    assert tracker.counters.gaps_detected == 3
    assert tracker.counters.reordered == 1
    # The open ones keep the time they were seen at.
    assert tracker.next_due() == WINDOW
    assert tracker.due(WINDOW, RETRY, 3, 0) == [2, 6]


def test_a_gap_is_requested_after_the_window_retried_and_recovered() -> None:
    tracker = NackTracker()
    tracker.add_gap(10, 0, WINDOW, DEADLINE)
    assert tracker.due(WINDOW - 1, RETRY, 3, 0) == []
    assert tracker.due(WINDOW, RETRY, 3, 0) == [10]
    assert tracker.next_due() == WINDOW + RETRY
    assert tracker.due(WINDOW + RETRY, RETRY, 3, 0) == [10]
    assert tracker.on_arrival(10) is ArqState.RECOVERED
    assert tracker.counters.recovered == 1
    assert tracker.counters.requests == 2
    assert tracker.next_due() is None


def test_a_gap_is_abandoned_when_retries_run_out_or_the_deadline_is_too_close() -> None:
    tracker = NackTracker()
    tracker.add_gap(1, 0, WINDOW, DEADLINE)
    tracker.add_gap(2, 0, WINDOW, WINDOW + 5 * NS_PER_MS)
    # Seq 2's answer would come 10 ms after its deadline passed: abandoned, not asked for.
    assert tracker.due(WINDOW, RETRY, 1, answer_ns=10 * NS_PER_MS) == [1]
    assert tracker.counters.abandoned_deadline == 1
    assert tracker.due(WINDOW + RETRY, RETRY, 1, answer_ns=0) == []
    assert tracker.counters.abandoned_retries == 1
    assert len(tracker) == 0


def test_output_moving_past_gaps_forgets_them_opened_or_not() -> None:
    tracker = NackTracker()
    tracker.add_gap(5, 0, WINDOW, DEADLINE)
    tracker.due(WINDOW, RETRY, 3, 0)
    tracker.add_gap(7, WINDOW, WINDOW, DEADLINE)
    tracker.add_gap(9, WINDOW, WINDOW, DEADLINE)
    assert tracker.forget_below(8) == 2
    assert 9 in tracker
    assert len(tracker) == 1

