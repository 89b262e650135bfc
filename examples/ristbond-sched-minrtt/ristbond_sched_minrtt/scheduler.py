"""``minrtt``: each packet goes to the fastest link that still has budget for it.

Every link earns a byte budget in proportion to its capacity (its share). A packet
goes to the usable link with the lowest smoothed RTT whose budget is not overdrawn,
and is charged to it. So the split over time follows capacity, while within that
split the low-latency link always goes first: a burst (say, a key frame) leaves on
the fastest link and only spills to slower links once that link's share is used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from ristbond_core.contracts import LinkView, PacketInfo, SchedulerSetup


class MinRttOptions(BaseModel):
    """Options of the ``minrtt`` scheduler (``[scheduler.options]``)."""

    model_config = ConfigDict(extra="forbid")

    rtt_smoothing: float = Field(
        0.25,
        gt=0.0,
        le=1.0,
        description="weight of each new RTT sample in the smoothed RTT (1 = no smoothing)",
    )
    unknown_rtt_ms: float = Field(
        1000.0,
        gt=0.0,
        description="RTT assumed for a link not measured yet, ranking it after measured links",
    )


class MinRttScheduler:
    """Lowest smoothed RTT first, within a capacity-proportional byte budget."""

    def __init__(self, setup: SchedulerSetup) -> None:
        options = setup.options
        if not isinstance(options, MinRttOptions):
            options = MinRttOptions.model_validate(options.model_dump())
        self._alpha = options.rtt_smoothing
        self._unknown_rtt_ms = options.unknown_rtt_ms
        self._srtt_ms: dict[str, float] = {}  # smoothed RTT per link id
        self._budget: dict[str, float] = {}  # bytes earned minus bytes sent, per link id

    def shares(self, links: Sequence[LinkView], now_ns: int) -> Mapping[str, float]:
        """Capacity x admission over usable links; configured weights if a capacity is unknown."""
        eligible = [link for link in links if link.usable] or list(links)
        if all(link.metrics.capacity_bps is not None for link in eligible):
            raw = {
                link.link_id: (link.metrics.capacity_bps or 0.0) * link.admission
                for link in eligible
            }
        else:
            raw = {link.link_id: link.weight * link.admission for link in eligible}
        total = sum(raw.values())
        if total <= 0.0:  # nothing to go by: split evenly
            return {link_id: 1.0 / len(raw) for link_id in raw}
        return {link_id: value / total for link_id, value in raw.items()}

    def select(self, packet: PacketInfo, links: Sequence[LinkView], now_ns: int) -> Sequence[str]:
        """Every link earns its share of this packet; the fastest one not overdrawn sends it."""
        shares = self.shares(links, now_ns)
        if not shares:
            return ()
        budget = self._budget
        for link_id in [i for i in budget if i not in shares]:
            del budget[link_id]  # a link out of the split loses its saved budget
        size = packet.size_bytes
        for link_id, share in shares.items():
            budget[link_id] = budget.get(link_id, 0.0) + size * share
        in_budget = [link for link in links if budget.get(link.link_id, -1.0) >= 0.0]
        if in_budget:
            chosen = min(in_budget, key=self._rtt_ms).link_id
        else:  # only after a link left with budget owed: take the least overdrawn
            chosen = max(shares, key=budget.__getitem__)
        budget[chosen] -= size
        return (chosen,)

    def _rtt_ms(self, link: LinkView) -> float:
        """Smoothed RTT, else the view's RTT, else the configured guess."""
        srtt = self._srtt_ms.get(link.link_id)
        if srtt is not None:
            return srtt
        rtt = link.metrics.rtt_ms
        return rtt if rtt is not None else self._unknown_rtt_ms

    def on_metrics(self, link: LinkView, now_ns: int) -> None:
        """Fold a new RTT sample into the link's smoothed RTT."""
        rtt = link.metrics.rtt_ms
        if rtt is None:
            return
        srtt = self._srtt_ms.get(link.link_id)
        self._srtt_ms[link.link_id] = rtt if srtt is None else srtt + self._alpha * (rtt - srtt)

    def on_link_added(self, link_id: str, now_ns: int) -> None:
        """A (re)joining link starts unmeasured and with an empty budget."""
        self.on_link_removed(link_id, now_ns)

    def on_link_removed(self, link_id: str, now_ns: int) -> None:
        """Forget the link's RTT and budget."""
        self._srtt_ms.pop(link_id, None)
        self._budget.pop(link_id, None)
