"""Types shared by the sender and receiver engines."""

from __future__ import annotations

from dataclasses import dataclass

from ristbond_core.contracts import Channel

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
RTP_CLOCK_HZ = 90_000

#: How often each end sends its per-link RTCP (TR-06-1 and librist use ~100 ms).
RTCP_INTERVAL_NS = 100 * NS_PER_MS


@dataclass(frozen=True, slots=True)
class OutDatagram:
    """One datagram an engine wants sent on ``link_id``'s ``channel`` socket."""

    link_id: str
    channel: Channel
    data: bytes


def ns_to_rtp_ticks(ns: int) -> int:
    """90 kHz ticks for a duration in ns (integer arithmetic, no float drift)."""
    return ns * RTP_CLOCK_HZ // NS_PER_S


def rtp_ticks_to_ns(ticks: int) -> int:
    """Duration in ns of ``ticks`` 90 kHz ticks."""
    return ticks * NS_PER_S // RTP_CLOCK_HZ
