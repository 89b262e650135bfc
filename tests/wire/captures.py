"""Load the datagram captures in ``tests/fixtures/wire`` (format: see its README.md)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "wire"
MAGIC = b"RBDG\x01\x00\x00\x00"
RECORD = struct.Struct(">dHBH")
TO_RECEIVER = 0
TO_SENDER = 1


@dataclass(frozen=True)
class Datagram:
    """One captured datagram: when, on which relay port, which way, and its bytes."""

    time_s: float
    port: int
    direction: int
    data: bytes

    @property
    def is_rtcp_port(self) -> bool:
        return self.port % 2 == 1


def load_capture(name: str) -> list[Datagram]:
    """All datagrams of the committed capture ``<name>.rdg`` in capture order."""
    return load_capture_file(FIXTURES / f"{name}.rdg")


def load_capture_file(path: Path) -> list[Datagram]:
    """All datagrams of one ``.rdg`` file in capture order."""
    raw = path.read_bytes()
    assert raw.startswith(MAGIC), f"{path.name} is not a datagram capture"
    out = []
    offset = len(MAGIC)
    while offset < len(raw):
        time_s, port, direction, length = RECORD.unpack_from(raw, offset)
        offset += RECORD.size
        out.append(Datagram(time_s, port, direction, raw[offset : offset + length]))
        offset += length
    assert offset == len(raw)
    return out


def all_capture_datagrams() -> list[bytes]:
    """Every captured datagram of every capture (the fuzz corpus seed)."""
    return [d.data for p in sorted(FIXTURES.glob("*.rdg")) for d in load_capture(p.stem)]
