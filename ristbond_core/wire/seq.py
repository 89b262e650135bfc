"""16-bit RTP sequence arithmetic, rollover tracking, and loss-set <-> NACK records.

On the wire a sequence number is 16 bits and wraps 65535 -> 0 about every 3 s at
200 Mbit/s. Inside ristbond every packet carries a 64-bit *extended* sequence number
(cycles << 16 | seq) so buffers can key on a plain, ever-growing integer.

NACK encoders take extended sequence numbers: consecutive extended numbers are
consecutive on the wire even across a wrap, so a loss run 65534, 65535, 0, 1 (extended
65534..65537) becomes the single range record ``(65534, 3)``. Decoders return 16-bit
numbers (the wire knows no more); :func:`unwrap_seq` maps them back near a reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

SEQ_MOD: Final = 1 << 16
SEQ_MASK: Final = SEQ_MOD - 1
_HALF: Final = SEQ_MOD >> 1

#: Most extra sequence numbers one range NACK record can name (16-bit count field).
RANGE_NACK_MAX_EXTRA: Final = SEQ_MASK
#: A generic NACK record covers its PID plus 16 bitmask positions.
GENERIC_NACK_SPAN: Final = 17


def seq_diff(a: int, b: int) -> int:
    """Signed distance ``a - b`` on the 16-bit circle, in -32768..32767."""
    return ((a - b + _HALF) & SEQ_MASK) - _HALF


def seq_add(seq: int, delta: int) -> int:
    """``seq + delta`` wrapped to 16 bits."""
    return (seq + delta) & SEQ_MASK


def seq_lt(a: int, b: int) -> bool:
    """True if 16-bit ``a`` comes before ``b`` (within half the sequence space)."""
    return seq_diff(a, b) < 0


def seq_gt(a: int, b: int) -> bool:
    """True if 16-bit ``a`` comes after ``b`` (within half the sequence space)."""
    return seq_diff(a, b) > 0


def unwrap_seq(seq: int, reference: int) -> int:
    """The extended number with low 16 bits ``seq`` closest to extended ``reference``."""
    return reference + seq_diff(seq, reference & SEQ_MASK)


class SeqExtender:
    """Turn 16-bit sequence numbers into extended ones, tolerating reorder and old packets.

    Each number is placed within half the sequence space of the highest number seen so
    far, so a late packet from before a wrap still extends into the previous cycle. The
    first packet lands in cycle 1 (``seq + 65536``) so that packets that predate it,
    which reordering can deliver next, still get non-negative extended numbers.
    """

    __slots__ = ("_highest",)

    def __init__(self) -> None:
        self._highest: int | None = None

    @property
    def highest(self) -> int | None:
        """The highest extended sequence number seen, or None before the first packet."""
        return self._highest

    def peek(self, seq: int) -> int:
        """The extended number ``seq`` would get, without recording it."""
        if self._highest is None:
            return (seq & SEQ_MASK) + SEQ_MOD
        return self._highest + seq_diff(seq, self._highest & SEQ_MASK)

    def extend(self, seq: int) -> int:
        """Record ``seq`` and return its extended sequence number."""
        extended = self.peek(seq)
        if self._highest is None or extended > self._highest:
            self._highest = extended
        return extended


def _sorted_unique(lost: Iterable[int]) -> list[int]:
    seqs = sorted(set(lost))
    if seqs and seqs[0] < 0:
        raise ValueError(f"extended sequence numbers are non-negative, got {seqs[0]}")
    return seqs


def range_nack_records(lost: Iterable[int]) -> list[tuple[int, int]]:
    """Encode extended lost sequence numbers as RIST range records ``(start, extra)``.

    Emits the fewest records: one per run of consecutive numbers (a run longer than
    65536 is split), ``start`` masked to 16 bits.
    """
    records: list[tuple[int, int]] = []
    run_start = prev = -2
    for seq in _sorted_unique(lost):
        if seq == prev + 1 and seq - run_start <= RANGE_NACK_MAX_EXTRA:
            prev = seq
            continue
        if prev >= 0:
            records.append((run_start & SEQ_MASK, prev - run_start))
        run_start = prev = seq
    if prev >= 0:
        records.append((run_start & SEQ_MASK, prev - run_start))
    return records


def range_nack_seqs(records: Sequence[tuple[int, int]]) -> list[int]:
    """Decode range records into 16-bit sequence numbers, each at most once.

    Remote input decides the record count and sizes, so the work is bounded by the
    sequence space (65536), not by what the records claim: small requests keep record
    order; huge ones are merged as intervals first.
    """
    total = sum(extra + 1 for _, extra in records)
    if total <= SEQ_MOD:
        seen: set[int] = set()
        out: list[int] = []
        for start, extra in records:
            for i in range(extra + 1):
                seq = (start + i) & SEQ_MASK
                if seq not in seen:
                    seen.add(seq)
                    out.append(seq)
        return out
    covered = bytearray(SEQ_MOD)
    merged: list[list[int]] = []
    for start, extra in sorted(records):
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], start + extra)
        else:
            merged.append([start, start + extra])
    result: list[int] = []
    for first, last in merged:
        for value in range(first, min(last, first + SEQ_MASK) + 1):
            seq = value & SEQ_MASK
            if not covered[seq]:
                covered[seq] = 1
                result.append(seq)
    return result


def generic_nack_records(lost: Iterable[int]) -> list[tuple[int, int]]:
    """Encode extended lost sequence numbers as RFC 4585 ``(pid, blp)`` records.

    Greedy from the lowest loss: each record takes the next uncovered loss as PID and
    every loss in the following 16 numbers as BLP bits, which yields the fewest records.
    """
    records: list[tuple[int, int]] = []
    pid = -GENERIC_NACK_SPAN
    blp = 0
    for seq in _sorted_unique(lost):
        offset = seq - pid
        if offset < GENERIC_NACK_SPAN:
            blp |= 1 << (offset - 1)
            continue
        if pid >= 0:
            records.append((pid & SEQ_MASK, blp))
        pid, blp = seq, 0
    if pid >= 0:
        records.append((pid & SEQ_MASK, blp))
    return records


def generic_nack_seqs(records: Sequence[tuple[int, int]]) -> list[int]:
    """Decode ``(pid, blp)`` records into 16-bit sequence numbers, each at most once."""
    seen: set[int] = set()
    out: list[int] = []
    for pid, blp in records:
        for bit in range(-1, 16):
            if bit >= 0 and not blp >> bit & 1:
                continue
            seq = (pid + bit + 1) & SEQ_MASK
            if seq not in seen:
                seen.add(seq)
                out.append(seq)
    return out
