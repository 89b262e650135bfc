"""The end-to-end stream check itself: gaps, foreign chunks, edges and clean runs."""

from __future__ import annotations

import hashlib

import pytest

from ristbond_core.runtime.testsrc import CHUNK_BYTES, expected_testsrc
from tests.e2e_impaired.harness import assert_whole_stream, gap_story, verdict

STREAM = expected_testsrc(40)


def test_a_whole_stream_is_clean() -> None:
    found = verdict(STREAM)
    assert (found.chunks, found.first_index, found.gaps, found.foreign_chunks) == (40, 0, [], 0)
    assert (found.cc_errors, found.sync_errors) == (0, 0)


def test_missing_chunks_show_as_a_gap_and_cc_errors() -> None:
    found = verdict(STREAM[:10 * CHUNK_BYTES] + STREAM[13 * CHUNK_BYTES:])
    assert found.gaps == [(9, 13)]
    assert found.cc_errors == 1


def test_altered_chunk_is_foreign() -> None:
    damaged = bytearray(STREAM)
    damaged[5 * CHUNK_BYTES + 100] ^= 0xFF
    assert verdict(bytes(damaged)).foreign_chunks == 1


def logs(sent: bytes, received: bytes) -> tuple[str, str]:
    """Final lines as ``ristbond send``/``receive`` print them."""
    digest_sent = hashlib.sha256(sent).hexdigest()
    digest_received = hashlib.sha256(received).hexdigest()
    return (f"ristbond send: stopped (duration) after 1.0 s: input {len(sent) // CHUNK_BYTES} "
            f"datagrams {len(sent)} bytes sha256 {digest_sent}; sent 1 packets",
            f"ristbond receive: stopped (duration) after 1.0 s: output "
            f"{len(received) // CHUNK_BYTES} datagrams {len(received)} bytes sha256 "
            f"{digest_received}; lost 0")


def test_whole_stream_passes_with_only_edge_chunks_missing() -> None:
    received = STREAM[CHUNK_BYTES:-2 * CHUNK_BYTES]
    assert_whole_stream(received, *logs(STREAM, received))
    assert_whole_stream(STREAM, *logs(STREAM, STREAM))


@pytest.mark.parametrize(
    "received",
    [STREAM[:10 * CHUNK_BYTES] + STREAM[11 * CHUNK_BYTES:],  # a gap in the middle
     STREAM[:-3 * CHUNK_BYTES],  # too much missing at the end
     STREAM[3 * CHUNK_BYTES:]],  # too much missing at the start
)
def test_whole_stream_rejects_gaps_and_long_edges(received: bytes) -> None:
    with pytest.raises(AssertionError):
        assert_whole_stream(received, *logs(STREAM, received))


def test_a_gap_is_told_from_the_debug_event_logs() -> None:
    """A failed check quotes what the ``-v`` logs say about the skipped packets."""
    from ristbond_core.events import NackSent, PacketSkipped, Retransmitted

    receive_log = "\n".join(f"ristbond: DEBUG: {event}" for event in (
        NackSent("127.0.0.1:5000", 0x1FFF0, 20, 1),  # 0xFFF0..0x10003 (wraps)
        NackSent("127.0.0.1:5000", 0x20100, 1, 2),
        PacketSkipped(0x20001, 2, "deadline", 3),
    ))
    send_log = "\n".join([
        "ristbond: INFO: link l1: live -> cooldown (blackhole: no delivery)",
        f"ristbond: DEBUG: {Retransmitted(0x10002, 'l0', 'l1', 4)}",  # 0x0002: its 16 bits
        f"ristbond: DEBUG: {Retransmitted(0x10005, 'l0', 'l1', 5)}",
    ])
    story = gap_story(send_log, receive_log).splitlines()
    assert story[0] == "skipped seqs [1, 2]:"
    assert story[1:] == [
        "send: ristbond: INFO: link l1: live -> cooldown (blackhole: no delivery)",
        f"send: ristbond: DEBUG: {Retransmitted(0x10002, 'l0', 'l1', 4)}",
        f"receive: ristbond: DEBUG: {NackSent('127.0.0.1:5000', 0x1FFF0, 20, 1)}",
        f"receive: ristbond: DEBUG: {PacketSkipped(0x20001, 2, 'deadline', 3)}",
    ]
    assert gap_story(send_log, "") == "no skipped packet in the receiver's event log"
