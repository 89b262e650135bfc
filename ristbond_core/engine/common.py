"""Types shared by the sender and receiver engines."""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

from ristbond_core.contracts import Channel
from ristbond_core.wire import RistEchoResponse

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
RTP_CLOCK_HZ = 90_000

#: How often each end sends its per-link RTCP (TR-06-1 and librist use ~100 ms).
RTCP_INTERVAL_NS = 100 * NS_PER_MS


class OutDatagram(NamedTuple):
    """One datagram an engine wants sent on ``link_id``'s ``channel`` socket (a named
    tuple: one is made per packet sent, and a tuple is the cheapest immutable record)."""

    link_id: str
    channel: Channel
    data: bytes


class PendingEcho(NamedTuple):
    """An echo request waiting for the next RTCP compound on its link.

    The response says how long the request waited here (``processing_delay_us``), so
    the peer's RTT leaves it out: an answer held back for the next compound, for a
    driver's batched wake-up, or until a flow has been taken up would otherwise read
    as network delay (the first RTT samples of a stream read ~0.5 s that way).
    """

    ssrc: int
    ntp_timestamp: int
    arrived_ns: int

    def response(self, now_ns: int) -> RistEchoResponse:
        """The response to send at ``now_ns``."""
        delay_us = min(0xFFFF_FFFF, max(0, (now_ns - self.arrived_ns) // 1000))
        return RistEchoResponse(self.ssrc, self.ntp_timestamp, delay_us)


def ns_to_rtp_ticks(ns: int) -> int:
    """90 kHz ticks for a duration in ns (integer arithmetic, no float drift)."""
    return ns * RTP_CLOCK_HZ // NS_PER_S


def rtp_ticks_to_ns(ticks: int) -> int:
    """Duration in ns of ``ticks`` 90 kHz ticks."""
    return ticks * NS_PER_S // RTP_CLOCK_HZ


class EngineOutbox:
    """What an engine hands to its driver: datagrams to send and events to report.

    Both are taken over by the driver's calls. Events are bounded: when the driver does
    not drain them, the oldest are dropped and counted, so memory stays bounded.
    """

    def __init__(self, max_pending_events: int) -> None:
        self._outbox: list[OutDatagram] = []
        self._events: deque[object] = deque()
        self._max_pending_events = max_pending_events
        self.events_dropped = 0

    def datagrams_to_send(self, now_ns: int) -> list[OutDatagram]:
        """Datagrams to send now; the list is handed over."""
        out, self._outbox = self._outbox, []
        return out

    def drain_events(self) -> list[object]:
        """Events since the last call (bounded: the oldest are counted and dropped)."""
        events = list(self._events)
        self._events.clear()
        return events

    def _send(self, link_id: str, channel: Channel, data: bytes) -> None:
        self._outbox.append(OutDatagram(link_id, channel, data))

    def _emit(self, event: object) -> None:
        if len(self._events) >= self._max_pending_events:
            self._events.popleft()
            self.events_dropped += 1
        self._events.append(event)


#: Version of the stats snapshot schema (docs/stats.schema.json); raised when a field
#: is removed or renamed.
STATS_SCHEMA_VERSION = 1


def snapshot(
    *,
    role: str,
    seq: int,
    now_ns: int,
    unix_minus_monotonic_ns: int,
    started_ns: int,
    derived: dict[str, Any],
    flow: dict[str, Any],
    links: list[dict[str, Any]],
) -> dict[str, Any]:
    """One stats snapshot in the versioned schema, the same envelope for both roles."""
    return {
        "schema_version": STATS_SCHEMA_VERSION,
        "role": role,
        "seq": seq,
        "monotonic_ns": now_ns,
        "wall_time_ns": now_ns + unix_minus_monotonic_ns,
        "uptime_ms": (now_ns - started_ns) // NS_PER_MS,
        "derived": derived,
        "flow": flow,
        "links": links,
    }
