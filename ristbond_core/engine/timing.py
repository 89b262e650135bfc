"""The one latency knob: every timer and buffer size derives from ``latency_ms`` and RTT.

Users set one number, the latency budget above the fastest path. From it and what is
measured (RTT, the spread of one-way delays across links, jitter) come the reorder
window (how long a gap may just be reordering before it is NACKed), the NACK retry
interval, how many retries fit in the budget, and how long the sender keeps packets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: Assumed RTT before the first echo response, as a share of the latency budget.
UNMEASURED_RTT_SHARE = 0.25
UNMEASURED_RTT_CAP_MS = 200.0
MIN_REORDER_WINDOW_MS = 3.0
MIN_RETRY_INTERVAL_MS = 5.0
#: The reorder window covers the measured spread with this factor plus a slack, since
#: the spread is a windowed minimum and the slow link's queue varies around it.
REORDER_SPREAD_MARGIN = 1.25
REORDER_SLACK_MS = 2.0
MAX_NACK_RETRIES = 10


@dataclass(frozen=True, slots=True)
class TimingPlan:
    """Values derived from the latency budget and the current measurements."""

    latency_ms: float
    rtt_ms: float
    rtt_measured: bool
    reorder_window_ms: float
    nack_retry_interval_ms: float
    max_nack_retries: int
    retransmit_store_ms: float

    def as_dict(self) -> dict[str, float | int | bool]:
        """For the stats snapshot."""
        return asdict(self)


def unmeasured_rtt_ms(latency_ms: float) -> float:
    """The RTT assumed before one is measured: a quarter of the budget, at most 200 ms."""
    return min(latency_ms * UNMEASURED_RTT_SHARE, UNMEASURED_RTT_CAP_MS)


def derive_timing(
    latency_ms: float,
    rtt_ms: float | None,
    delay_spread_ms: float | None = 0.0,
    jitter_ms: float = 0.0,
) -> TimingPlan:
    """Derive every ARQ timer from ``latency_ms`` and what has been measured.

    * reorder window: the delay spread between links (with a margin) plus twice the
      jitter (a packet on the slow link is not lost just because the fast link's
      successor arrived), at least 3 ms and at most a quarter of the budget, so retries
      still fit; a quarter of the budget while the spread is unknown (None);
    * retry interval: one RTT plus jitter (a NACK's answer needs a round trip);
    * retries: as many intervals as fit in the budget after the reorder window;
    * sender store: the budget plus one RTT (a last-moment NACK can still be served).
    """
    measured = rtt_ms is not None
    rtt = rtt_ms if rtt_ms is not None else unmeasured_rtt_ms(latency_ms)
    if delay_spread_ms is None:
        # Some link has not shown its delay yet: assume the worst until it does.
        reorder = latency_ms / 4.0
    else:
        reorder = min(
            max(MIN_REORDER_WINDOW_MS,
                delay_spread_ms * REORDER_SPREAD_MARGIN + 2.0 * jitter_ms + REORDER_SLACK_MS),
            latency_ms / 4.0,
        )
    retry = max(MIN_RETRY_INTERVAL_MS, rtt * 1.2 + jitter_ms)
    budget = latency_ms - reorder
    retries = int(max(1, min(MAX_NACK_RETRIES, budget // retry))) if budget > 0 else 1
    return TimingPlan(
        latency_ms=latency_ms,
        rtt_ms=rtt,
        rtt_measured=measured,
        reorder_window_ms=reorder,
        nack_retry_interval_ms=retry,
        max_nack_retries=retries,
        retransmit_store_ms=latency_ms + rtt,
    )
