"""A built-in MPEG-TS test stream and a checker for what comes out the far end.

``testsrc://`` produces 7-packet (1316-byte) chunks on PID 0x100 with continuity
counters and each chunk's index in its payload, so the receiving side can prove the
stream arrived whole and in order: ``check_ts`` verifies sync bytes, continuity
counters per PID and hashes everything; ``expected_testsrc`` regenerates what a
sender produced.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

TS_PACKET = 188
TS_SYNC = 0x47
PACKETS_PER_CHUNK = 7
CHUNK_BYTES = TS_PACKET * PACKETS_PER_CHUNK
TESTSRC_PID = 0x100


def make_testsrc_chunk(index: int) -> bytes:
    """Chunk ``index`` of the test stream: 7 TS packets, continuity counter = packet number."""
    packets = []
    for k in range(PACKETS_PER_CHUNK):
        number = index * PACKETS_PER_CHUNK + k
        # payload_unit_start on the first packet of each chunk, like a PES start.
        start = 0x40 if k == 0 else 0x00
        header = bytes([TS_SYNC, start | (TESTSRC_PID >> 8), TESTSRC_PID & 0xFF,
                        0x10 | (number & 0x0F)])
        # Payload: the packet number repeated, so any reordering or mix-up shows.
        packets.append(header + number.to_bytes(8, "big") * 23)
    return b"".join(packets)


def expected_testsrc(chunks: int) -> bytes:
    """The first ``chunks`` chunks of the test stream, concatenated."""
    return b"".join(make_testsrc_chunk(i) for i in range(chunks))


@dataclass(frozen=True, slots=True)
class TsCheck:
    """What ``check_ts`` found in a byte stream."""

    packets: int
    sync_errors: int
    cc_errors: int
    trailing_bytes: int
    sha256: str

    @property
    def clean(self) -> bool:
        """Aligned, every sync byte present and no continuity counter skipped."""
        return self.sync_errors == 0 and self.cc_errors == 0 and self.trailing_bytes == 0


def check_ts(data: bytes) -> TsCheck:
    """Sync bytes, continuity counters (packets carrying payload) and a SHA-256 of ``data``."""
    last_cc: dict[int, int] = {}
    sync_errors = cc_errors = 0
    whole = len(data) - len(data) % TS_PACKET
    for offset in range(0, whole, TS_PACKET):
        if data[offset] != TS_SYNC:
            sync_errors += 1
            continue
        pid = ((data[offset + 1] & 0x1F) << 8) | data[offset + 2]
        flags = data[offset + 3]
        if pid == 0x1FFF or not flags & 0x10:  # null packets and no-payload packets
            continue
        cc = flags & 0x0F
        previous = last_cc.get(pid)
        if previous is not None and cc != (previous + 1) & 0x0F:
            cc_errors += 1
        last_cc[pid] = cc
    return TsCheck(
        packets=whole // TS_PACKET,
        sync_errors=sync_errors,
        cc_errors=cc_errors,
        trailing_bytes=len(data) - whole,
        sha256=hashlib.sha256(data).hexdigest(),
    )
