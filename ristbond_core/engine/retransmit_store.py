"""The sender's bounded store of sent packets, kept for retransmission.

Bounded twice: by age (a packet older than the latency budget plus one RTT can no
longer be played out, so it is useless) and by bytes (whatever the bitrate).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(slots=True)
class StoredPacket:
    """One sent packet and what happened to it."""

    payload: bytes
    timestamp: int
    sent_ns: int
    link_id: str
    retries: int = 0
    last_retransmit_ns: int | None = None
    last_link_id: str = ""
    nacked_attempts: int = 0
    #: The first half of a split datagram: sent with the RTP marker bit, so the
    #: receiver joins it with the next sequence number again (retransmissions too).
    joins_next: bool = False


class RetransmitStore:
    """Sent packets by extended sequence number, oldest evicted first."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._packets: dict[int, StoredPacket] = {}
        self._order: deque[int] = deque()
        self.bytes = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._packets)

    def add(self, seq: int, packet: StoredPacket) -> None:
        """Keep ``packet``; evict the oldest while over the byte bound."""
        self._packets[seq] = packet
        self._order.append(seq)
        self.bytes += len(packet.payload)
        while self.bytes > self.max_bytes and self._order:
            self._evict_oldest()

    def get(self, seq: int) -> StoredPacket | None:
        """The stored packet, or None if it was never sent or already evicted."""
        return self._packets.get(seq)

    def expire(self, now_ns: int, max_age_ns: int) -> None:
        """Drop packets sent more than ``max_age_ns`` ago."""
        while self._order:
            oldest = self._packets.get(self._order[0])
            if oldest is not None and now_ns - oldest.sent_ns <= max_age_ns:
                break
            self._evict_oldest()

    def oldest_sent_ns(self) -> int | None:
        """Send time of the oldest stored packet."""
        while self._order and self._order[0] not in self._packets:
            self._order.popleft()
        return self._packets[self._order[0]].sent_ns if self._order else None

    def _evict_oldest(self) -> None:
        seq = self._order.popleft()
        packet = self._packets.pop(seq, None)
        if packet is not None:
            self.bytes -= len(packet.payload)
            self.evicted += 1
