"""Pacing a TS file by its own clock: PCR values set when each chunk is sent.

Chunks between two PCR-bearing chunks are spread evenly over the PCR interval, so a
variable-bitrate file plays out at the pace it was recorded at. A file without PCRs
(or a long stretch without one) falls back to the configured bitrate; a PCR that jumps
backwards or by more than ``MAX_PCR_STEP_NS`` (a splice, a wrap) re-anchors the clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import BinaryIO

from ristbond_core.engine.common import NS_PER_S
from ristbond_core.runtime.clock import MAX_PACING_BACKLOG_NS
from ristbond_core.runtime.testsrc import TS_PACKET, TS_SYNC

PCR_HZ = 27_000_000
#: Chunks read ahead while looking for the next PCR at most (then bitrate pacing).
MAX_LOOKAHEAD = 2048
#: A PCR step larger than this is a discontinuity, not a pace.
MAX_PCR_STEP_NS = 2 * NS_PER_S


def first_pcr(chunk: bytes, pid: int | None) -> tuple[int, int] | None:
    """(PID, PCR in 27 MHz ticks) of the first packet in ``chunk`` carrying a PCR."""
    for offset in range(0, len(chunk) - TS_PACKET + 1, TS_PACKET):
        packet = chunk[offset:offset + TS_PACKET]
        if packet[0] != TS_SYNC or not packet[3] & 0x20 or packet[4] < 7 or \
                not packet[5] & 0x10:
            continue
        this_pid = ((packet[1] & 0x1F) << 8) | packet[2]
        if pid is not None and this_pid != pid:
            continue
        b = packet[6:12]
        base = (b[0] << 25) | (b[1] << 17) | (b[2] << 9) | (b[3] << 1) | (b[4] >> 7)
        return this_pid, base * 300 + (((b[4] & 0x01) << 8) | b[5])
    return None


class PcrPacedInput:
    """File chunks released at the times their PCRs say (bitrate between PCR-less runs)."""

    def __init__(self, chunks: Iterator[bytes], fallback_bps: int, start_ns: int,
                 closer: BinaryIO | None = None) -> None:
        self._chunks = chunks
        self._fallback_bps = fallback_bps
        self._closer = closer
        self._pid: int | None = None
        self._anchor: tuple[int, int] | None = None  # (PCR ticks, send ns)
        self._clock_ns = start_ns  # send time of the last scheduled chunk
        self._last_bytes = 0  # its size (bitrate pacing starts after it)
        self._scheduled: deque[tuple[int, bytes]] = deque()
        self._exhausted = False

    def _schedule_more(self) -> None:
        """Read up to the next PCR and give every chunk read a send time."""
        pending: list[bytes] = []
        while len(pending) < MAX_LOOKAHEAD:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._exhausted = True
                break
            found = first_pcr(chunk, self._pid)
            if found is None:
                pending.append(chunk)
                continue
            self._pid, pcr = found
            self._place(pending, pcr)
            self._scheduled.append((self._clock_ns, chunk))
            self._last_bytes = len(chunk)
            return
        self._place_at_bitrate(pending)

    def _place(self, pending: list[bytes], pcr: int) -> None:
        anchor = self._anchor
        step_ns = None
        if anchor is not None:
            step_ns = (pcr - anchor[0]) * NS_PER_S // PCR_HZ
            if not 0 <= step_ns <= MAX_PCR_STEP_NS:
                step_ns = None
        if step_ns is None:
            self._place_at_bitrate(pending)
            self._advance()
            self._anchor = (pcr, self._clock_ns)
            return
        assert anchor is not None
        count = len(pending) + 1
        for index, chunk in enumerate(pending, 1):
            self._scheduled.append((anchor[1] + step_ns * index // count, chunk))
            self._last_bytes = len(chunk)
        self._clock_ns = anchor[1] + step_ns
        self._anchor = (pcr, self._clock_ns)

    def _advance(self) -> None:
        """Move the clock past the last scheduled chunk at the fallback bitrate."""
        self._clock_ns += self._last_bytes * 8 * NS_PER_S // self._fallback_bps

    def _place_at_bitrate(self, pending: list[bytes]) -> None:
        for chunk in pending:
            self._advance()
            self._scheduled.append((self._clock_ns, chunk))
            self._last_bytes = len(chunk)

    def fileno(self) -> int | None:
        """Timed input."""
        return None

    def next_ready_ns(self) -> int | None:
        """Send time of the next chunk."""
        if not self._scheduled and not self._exhausted:
            self._schedule_more()
        return self._scheduled[0][0] if self._scheduled else None

    def read(self, now_ns: int, limit: int) -> list[bytes]:
        """Chunks whose time has come (at most ``limit``)."""
        out: list[bytes] = []
        while len(out) < limit and self.next_ready_ns() is not None:
            due, chunk = self._scheduled[0]
            if now_ns - due > MAX_PACING_BACKLOG_NS:
                self._shift(now_ns - due)  # after a stall, resume pacing rather than burst
                continue
            if due > now_ns:
                break
            self._scheduled.popleft()
            out.append(chunk)
        return out

    def _shift(self, delta_ns: int) -> None:
        self._scheduled = deque((due + delta_ns, chunk) for due, chunk in self._scheduled)
        self._clock_ns += delta_ns
        if self._anchor is not None:
            self._anchor = (self._anchor[0], self._anchor[1] + delta_ns)

    @property
    def finished(self) -> bool:
        """True when the file is read and everything was released."""
        return self._exhausted and not self._scheduled

    def close(self) -> None:
        """Close the file."""
        if self._closer is not None:
            self._closer.close()
