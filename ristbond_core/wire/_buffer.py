"""Shared low-level helpers for the wire codecs (not part of the public API)."""

from __future__ import annotations

from typing import TypeAlias

#: Anything a datagram may arrive in; parsers never keep a reference to it.
Buffer: TypeAlias = bytes | bytearray | memoryview


def as_bytes(data: Buffer) -> bytes:
    """Return ``data`` as immutable ``bytes`` (no copy when it already is)."""
    return data if isinstance(data, bytes) else bytes(data)


def pad4(length: int) -> int:
    """Bytes needed after ``length`` bytes to reach the next 32-bit boundary."""
    return -length & 3
