"""Metric arithmetic on hand-made inputs."""

from __future__ import annotations

from ristbond_core.sim.metrics import glitches, output_reorder


def test_in_order_output_has_no_reorder() -> None:
    assert output_reorder([0, 1, 2, 5, 6]) == 0


def test_a_late_or_repeated_packet_counts_as_reorder() -> None:
    assert output_reorder([0, 2, 1, 3, 3]) == 2


def test_glitches_count_gaps_not_packets() -> None:
    assert glitches([0, 1, 5, 6, 9], sent=10) == 2


def test_missing_start_and_end_are_glitches() -> None:
    assert glitches([2, 3], sent=6) == 2
    assert glitches([], sent=3) == 1
    assert glitches([0, 1, 2], sent=3) == 0
