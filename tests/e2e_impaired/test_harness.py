"""The end-to-end stream check itself: gaps, foreign chunks, edges and clean runs."""

from __future__ import annotations

import hashlib

import pytest

from ristbond_core.runtime.testsrc import CHUNK_BYTES, expected_testsrc
from tests.e2e_impaired.harness import assert_whole_stream, verdict

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
