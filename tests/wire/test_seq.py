"""Sequence arithmetic, rollover tracking and loss-set <-> NACK record encoding."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ristbond_core.wire import (
    SeqExtender,
    generic_nack_records,
    generic_nack_seqs,
    range_nack_records,
    range_nack_seqs,
    seq_add,
    seq_diff,
    seq_gt,
    seq_lt,
    unwrap_seq,
)

from .strategies import u16

# Loss sets as receivers hold them: extended numbers inside a window well under half the
# sequence space, anchored anywhere (including just below a 65535 -> 0 wrap).
anchors = st.one_of(
    st.integers(0, 1 << 40), st.integers(65_000, 65_535).map(lambda s: s + (3 << 16))
)
loss_sets = st.tuples(anchors, st.sets(st.integers(0, 3000), max_size=200)).map(
    lambda t: {t[0] + off for off in t[1]}
)


def _runs(seqs: set[int]) -> int:
    return sum(1 for s in seqs if s - 1 not in seqs)


@given(u16, st.integers(-32768, 32767))
def test_seq_diff_inverts_seq_add(seq: int, delta: int) -> None:
    assert seq_diff(seq_add(seq, delta), seq) == delta


def test_comparisons_wrap_at_65535() -> None:
    assert seq_diff(0, 65535) == 1
    assert seq_diff(65535, 0) == -1
    assert seq_gt(2, 65530) and seq_lt(65530, 2)
    assert not seq_lt(5, 5) and not seq_gt(5, 5)


@given(st.integers(0, 1 << 48), st.integers(-32767, 32767))
def test_unwrap_finds_the_nearest_extended_number(reference: int, delta: int) -> None:
    target = reference + delta
    assert unwrap_seq(target & 0xFFFF, reference) == target


def test_extender_counts_cycles_across_the_wrap() -> None:
    ext = SeqExtender()
    got = [ext.extend(s) for s in (65534, 65535, 0, 1)]
    assert got == [131070, 131071, 131072, 131073]
    assert ext.highest == 131073


def test_extender_places_late_packets_from_before_the_wrap_in_the_old_cycle() -> None:
    ext = SeqExtender()
    assert [ext.extend(s) for s in (65535, 1, 0, 65534)] == [131071, 131073, 131072, 131070]
    assert ext.highest == 131073


def test_extender_gives_packets_older_than_the_first_non_negative_numbers() -> None:
    ext = SeqExtender()
    first = ext.extend(3)
    assert ext.extend(65535) == first - 4 >= 0


def test_peek_does_not_record() -> None:
    ext = SeqExtender()
    ext.extend(10)
    assert ext.peek(20) == 65556
    assert ext.highest == 65546


@settings(max_examples=80)
@given(start=u16, n=st.integers(1, 3000), seed=st.integers(0, 2**32 - 1))
def test_extender_recovers_true_numbers_under_bounded_reordering(
    start: int, n: int, seed: int
) -> None:
    truth = list(range(start, start + n))
    rng = random.Random(seed)
    shuffled = truth[:]
    for i in range(len(shuffled) - 1):  # local swaps: reordering depth < 32768
        if rng.random() < 0.3:
            j = min(len(shuffled) - 1, i + rng.randint(1, 50))
            shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
    ext = SeqExtender()
    got = [ext.extend(s & 0xFFFF) for s in shuffled]
    offset = got[0] - shuffled[0]
    assert [g - offset for g in got] == shuffled


@settings(max_examples=150)
@given(loss_sets)
def test_range_nack_round_trips_to_the_16_bit_loss_set(lost: set[int]) -> None:
    records = range_nack_records(lost)
    assert sorted(range_nack_seqs(records)) == sorted(s & 0xFFFF for s in lost)


@settings(max_examples=150)
@given(loss_sets)
def test_range_nack_uses_one_record_per_run(lost: set[int]) -> None:
    assert len(range_nack_records(lost)) == _runs(lost)


@settings(max_examples=150)
@given(loss_sets)
def test_generic_nack_round_trips_to_the_16_bit_loss_set(lost: set[int]) -> None:
    records = generic_nack_records(lost)
    assert sorted(generic_nack_seqs(records)) == sorted(s & 0xFFFF for s in lost)


def _min_generic_records(lost: set[int]) -> int:
    # Independent count: sweep, each record covers its first loss and the next 16.
    count, covered_to = 0, -1
    for s in sorted(lost):
        if s > covered_to:
            count, covered_to = count + 1, s + 16
    return count


@settings(max_examples=150)
@given(loss_sets)
def test_generic_nack_uses_the_fewest_records(lost: set[int]) -> None:
    assert len(generic_nack_records(lost)) == _min_generic_records(lost)


@settings(max_examples=100)
@given(loss_sets, st.integers(0, 1 << 20))
def test_decoded_nacks_unwrap_back_to_extended_numbers(lost: set[int], slack: int) -> None:
    reference = max(lost, default=0) + slack % 1000
    for decoded in (
        range_nack_seqs(range_nack_records(lost)),
        generic_nack_seqs(generic_nack_records(lost)),
    ):
        assert {unwrap_seq(s, reference) for s in decoded} == lost


def test_range_spanning_the_wrap_is_one_record() -> None:
    lost = {65534 + (1 << 16), 65535 + (1 << 16), 2 << 16, (2 << 16) + 1}
    assert range_nack_records(lost) == [(65534, 3)]
    assert range_nack_seqs([(65534, 3)]) == [65534, 65535, 0, 1]


def test_generic_record_spanning_the_wrap_sets_blp_bits() -> None:
    lost = {65535, 65536, 65538}
    assert generic_nack_records(lost) == [(65535, 0b101)]
    assert generic_nack_seqs([(65535, 0b101)]) == [65535, 0, 2]


def test_run_longer_than_one_record_is_split() -> None:
    lost = set(range(70_000))
    records = range_nack_records(lost)
    assert records == [(0, 65535), (0, 70_000 - 65537)]


def test_decoding_huge_range_records_is_bounded_by_the_sequence_space() -> None:
    records = [(i, 65535) for i in range(0, 65536, 16)]  # claims 268 million packets
    seqs = range_nack_seqs(records)
    assert len(seqs) == 65536 == len(set(seqs))


def test_decoding_skips_duplicates() -> None:
    assert range_nack_seqs([(5, 1), (6, 1)]) == [5, 6, 7]
    assert generic_nack_seqs([(5, 1), (6, 0)]) == [5, 6]


def test_negative_numbers_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        range_nack_records({-1})
    with pytest.raises(ValueError, match="non-negative"):
        generic_nack_records({-1})
