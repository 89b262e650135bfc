"""The control plane over a session transport's links, without I/O.

A session transport (librist) runs ARQ, RTCP and the per-packet split itself, so the
core's engines are not in the path. What the core still owns is the judgement about
links: each link's lifecycle (probe → warm → live, demotion on bad RTT or loss), the
scheduler's view of it, and the target split. ``SessionControl`` keeps those from the
transport's per-link reports and says which weights the transport should apply; the
real-time loop in :mod:`ristbond_core.runtime.session` only moves data and time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ristbond_core.contracts import LinkMetrics, LinkView, Scheduler, SessionLinkReport
from ristbond_core.engine.common import NS_PER_MS
from ristbond_core.engine.lifecycle import LinkLifecycle
from ristbond_core.engine.lifecycle_config import LifecycleConfig
from ristbond_core.events import LinkStateChanged

#: Shares that moved less than this (absolute) are not re-applied as weights.
SHARE_CHANGE_EPSILON = 0.01


#: Per-interval counters that add up to cumulative totals (the rest, such as rates and
#: RTTs, are shown as last reported).
SUMMED_COUNTERS = ("sent_packets", "retransmitted_packets", "sent_bytes", "delivered_bytes",
                   "received_packets")


@dataclass(slots=True)
class ReportTally:
    """One link's reports so far: the latest metrics and numbers, and summed counts."""

    metrics: LinkMetrics = field(default_factory=LinkMetrics)
    last_report_ns: int | None = None
    reports: int = 0
    totals: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)

    def add(self, report: SessionLinkReport, now_ns: int) -> None:
        """Take one report received at ``now_ns``."""
        self.metrics = report.metrics
        self.last_report_ns = now_ns
        self.reports += 1
        self.last = dict(report.counters)
        for key in SUMMED_COUNTERS:
            if key in report.counters:
                self.totals[key] = self.totals.get(key, 0.0) + float(report.counters[key])

    def age_ms(self, now_ns: int) -> float | None:
        """Time since the latest report, or None before the first."""
        return None if self.last_report_ns is None else (now_ns - self.last_report_ns) / NS_PER_MS


@dataclass(slots=True)
class _SessionLink:
    lifecycle: LinkLifecycle
    weight: float
    tally: ReportTally = field(default_factory=ReportTally)


class SessionControl:
    """Lifecycle, scheduler view and target split for a session transport's links.

    ``duplicate`` comes from the scheduler (``duplicates = True``, like ``broadcast``):
    every packet on every link, which a session transport expresses its own way.
    """

    def __init__(self, scheduler: Scheduler, lifecycle: LifecycleConfig | None = None) -> None:
        self.scheduler = scheduler
        self.duplicate = bool(getattr(scheduler, "duplicates", False))
        self._lifecycle_config = lifecycle
        self._links: dict[str, _SessionLink] = {}
        self._events: list[LinkStateChanged] = []
        self._applied_shares: dict[str, float] = {}
        self.applied_weights: dict[str, int] = {}
        self.weight_updates = 0
        self.reports_unknown_link = 0

    # -- links ------------------------------------------------------------------------
    @property
    def link_ids(self) -> list[str]:
        """The links in the bond, in the order they were added."""
        return list(self._links)

    def add_link(self, link_id: str, now_ns: int, *, weight: float = 1.0) -> None:
        """A link joined: its lifecycle starts probing."""
        lifecycle = LinkLifecycle(link_id, self._lifecycle_config)
        self._links[link_id] = _SessionLink(lifecycle, weight)
        lifecycle.on_attach(now_ns)
        self._collect(lifecycle)
        self.scheduler.on_link_added(link_id, now_ns)

    def remove_link(self, link_id: str, now_ns: int) -> None:
        """A link left the bond (unknown ids are ignored)."""
        link = self._links.pop(link_id, None)
        if link is None:
            return
        link.lifecycle.on_detach(now_ns)
        self._collect(link.lifecycle)
        self._applied_shares.pop(link_id, None)
        self.applied_weights.pop(link_id, None)
        self.scheduler.on_link_removed(link_id, now_ns)

    def set_weight(self, link_id: str, weight: float) -> None:
        """Change a link's configured weight (what weighted schedulers read)."""
        if link_id in self._links:
            self._links[link_id].weight = weight

    # -- observations -----------------------------------------------------------------
    def on_report(self, report: SessionLinkReport, now_ns: int) -> None:
        """One link's report from the transport: lifecycle first, then the scheduler."""
        link = self._links.get(report.link_id)
        if link is None:
            self.reports_unknown_link += 1
            return
        sent = int(report.counters.get("sent_bytes", 0))
        delivered = int(report.counters.get("delivered_bytes", 0))
        if sent > 0:
            link.lifecycle.on_sent(sent, now_ns)
        link.lifecycle.on_feedback(report.metrics, now_ns, delivered_bytes=max(0, delivered))
        link.tally.add(report, now_ns)
        self._collect(link.lifecycle)
        self.scheduler.on_metrics(self._view(report.link_id, link), now_ns)

    def next_deadline(self) -> int | None:
        """The earliest lifecycle timer, or None."""
        deadlines = [d for link in self._links.values()
                     if (d := link.lifecycle.next_deadline()) is not None]
        return min(deadlines) if deadlines else None

    def on_deadline(self, now_ns: int) -> None:
        """Fire lifecycle timers (stale feedback, blackhole, warm-up, rest)."""
        for link in self._links.values():
            state = link.lifecycle.state
            link.lifecycle.on_deadline(now_ns)
            if link.lifecycle.state is not state:
                self._collect(link.lifecycle)
                self.scheduler.on_metrics(self._view(link.lifecycle.link_id, link), now_ns)

    def drain_events(self) -> list[LinkStateChanged]:
        """Lifecycle transitions since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    # -- the split --------------------------------------------------------------------
    def views(self) -> list[LinkView]:
        """The scheduler's view of every link now."""
        return [self._view(link_id, link) for link_id, link in self._links.items()]

    def target_shares(self, now_ns: int) -> dict[str, float]:
        """The scheduler's split now, with every link present (0 for links it left out)."""
        shares = self.scheduler.shares(self.views(), now_ns)
        return {link_id: max(0.0, float(shares.get(link_id, 0.0))) for link_id in self._links}

    def shares_to_apply(self, now_ns: int) -> dict[str, float] | None:
        """The split if it moved enough since it was last applied, else None."""
        target = self.target_shares(now_ns)
        if target.keys() == self._applied_shares.keys() and all(
            abs(target[k] - self._applied_shares[k]) < SHARE_CHANGE_EPSILON for k in target
        ):
            return None
        return target

    def applied(self, shares: Mapping[str, float], weights: Mapping[str, int]) -> None:
        """The transport applied ``shares`` as ``weights``."""
        self._applied_shares = dict(shares)
        self.applied_weights = dict(weights)
        self.weight_updates += 1

    # -- stats ------------------------------------------------------------------------
    def link_stats(self, now_ns: int) -> list[dict[str, Any]]:
        """Per-link rows for a session stats snapshot."""
        rows = []
        for link_id, link in self._links.items():
            tally = link.tally
            metrics = tally.metrics
            rows.append({
                "id": link_id,
                "state": link.lifecycle.state.value,
                "admission": link.lifecycle.admission,
                "weight": link.weight,
                "share": self._applied_shares.get(link_id, 0.0),
                "applied_weight": self.applied_weights.get(link_id),
                "rtt_ms": metrics.rtt_ms,
                "min_rtt_ms": metrics.min_rtt_ms,
                "loss": metrics.loss,
                "jitter_ms": metrics.jitter_ms,
                "capacity_bps": metrics.capacity_bps,
                "delivery_rate_bps": metrics.delivery_rate_bps,
                "feedback_age_ms": tally.age_ms(now_ns),
                "reports": tally.reports,
                "totals": dict(tally.totals),
                "last_report": dict(tally.last),
            })
        return rows

    # -- internals --------------------------------------------------------------------
    def _view(self, link_id: str, link: _SessionLink) -> LinkView:
        return link.lifecycle.view(link.tally.metrics, weight=link.weight)

    def _collect(self, lifecycle: LinkLifecycle) -> None:
        self._events.extend(lifecycle.drain_events())
