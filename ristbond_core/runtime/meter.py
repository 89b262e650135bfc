"""Counting and hashing a stream as it passes, so both ends can prove it arrived whole."""

from __future__ import annotations

import hashlib


class StreamMeter:
    """Datagrams, bytes and a running SHA-256 of everything seen."""

    def __init__(self) -> None:
        self.datagrams = 0
        self.bytes = 0
        self._hash = hashlib.sha256()

    def add(self, payload: bytes) -> None:
        """Account one payload."""
        self.datagrams += 1
        self.bytes += len(payload)
        self._hash.update(payload)

    @property
    def sha256(self) -> str:
        """Hex digest of everything so far."""
        return self._hash.hexdigest()
