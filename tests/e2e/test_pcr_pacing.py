"""A TS file paced by its PCRs plays out at the pace it was recorded at."""

from __future__ import annotations

from ristbond_core.engine.common import NS_PER_MS, NS_PER_S
from ristbond_core.runtime.pcr import PCR_HZ, PcrPacedInput, first_pcr
from ristbond_core.runtime.testsrc import CHUNK_BYTES, make_testsrc_chunk

PID = 0x100


def pcr_packet(pcr: int) -> bytes:
    """A TS packet with only an adaptation field carrying ``pcr`` (27 MHz ticks)."""
    base, ext = divmod(pcr, 300)
    field = bytes([
        0x10,  # PCR flag
        (base >> 25) & 0xFF, (base >> 17) & 0xFF, (base >> 9) & 0xFF, (base >> 1) & 0xFF,
        ((base & 1) << 7) | 0x7E | (ext >> 8), ext & 0xFF,
    ])
    header = bytes([0x47, PID >> 8, PID & 0xFF, 0x20])
    return header + bytes([183]) + field + b"\xff" * (183 - len(field))


def chunks_with_pcr(
    count: int, every: int, step_ms: int, jump_at: int | None = None
) -> list[bytes]:
    """Test chunks; each ``every``-th starts with a PCR ``step_ms`` after the previous."""
    out = []
    pcr = 5 * PCR_HZ
    for index in range(count):
        chunk = make_testsrc_chunk(index)
        if index % every == 0:
            if index == jump_at:
                pcr += 3600 * PCR_HZ  # a discontinuity
            chunk = pcr_packet(pcr) + chunk[188:]
            pcr += step_ms * PCR_HZ // 1000
        out.append(chunk)
    return out


def release_times(paced: PcrPacedInput, start: int, count: int) -> list[int]:
    """When each chunk comes out, stepping a virtual clock 1 ms at a time."""
    times: list[int] = []
    now = start
    while len(times) < count and now < start + 10 * NS_PER_S:
        times.extend(now for _ in paced.read(now, 100))
        now += NS_PER_MS
    return times


def test_a_pcr_is_read_from_the_adaptation_field() -> None:
    assert first_pcr(pcr_packet(123_456_789), None) == (PID, 123_456_789)
    assert first_pcr(make_testsrc_chunk(0), None) is None


def test_chunks_between_pcrs_are_spread_over_the_pcr_interval() -> None:
    start = NS_PER_S
    chunks = chunks_with_pcr(41, every=10, step_ms=100)
    paced = PcrPacedInput(iter(chunks), 1_000_000, start)
    times = release_times(paced, start, 41)
    assert len(times) == 41
    offsets_ms = [(t - start) // NS_PER_MS for t in times]
    assert offsets_ms[0] == 0
    assert offsets_ms[10] == 100 and offsets_ms[20] == 200 and offsets_ms[40] == 400
    assert 45 <= offsets_ms[5] <= 55
    assert paced.finished


def test_a_pcr_discontinuity_falls_back_to_the_bitrate_for_one_interval() -> None:
    start = NS_PER_S
    chunks = chunks_with_pcr(31, every=10, step_ms=100, jump_at=20)
    bitrate = CHUNK_BYTES * 8 * 100  # 10 ms per chunk
    paced = PcrPacedInput(iter(chunks), bitrate, start)
    offsets_ms = [(t - start) // NS_PER_MS for t in release_times(paced, start, 31)]
    assert len(offsets_ms) == 31
    assert offsets_ms[10] == 100
    # chunks 11..19 at 10 ms each after chunk 10, then the clock re-anchors at chunk 20
    assert offsets_ms[20] == 200
    assert offsets_ms[30] == 300


def test_without_any_pcr_the_bitrate_paces() -> None:
    start = 0
    bitrate = CHUNK_BYTES * 8 * 100
    paced = PcrPacedInput(iter([make_testsrc_chunk(i) for i in range(5)]), bitrate, start)
    offsets_ms = [t // NS_PER_MS for t in release_times(paced, start, 5)]
    assert offsets_ms == [0, 10, 20, 30, 40]
