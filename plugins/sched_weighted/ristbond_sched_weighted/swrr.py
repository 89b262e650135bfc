"""``weighted``: smooth weighted round robin over static, run-time adjustable weights.

Each ``select`` adds every eligible link's weight to its running credit, picks the
link with the most credit and charges it the sum of all weights (the interleaving
nginx uses for upstreams). Over any window the packet counts follow the weights,
and a heavy link's packets are spread out instead of sent in runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ristbond_core.contracts import LinkView, PacketInfo, SchedulerSetup

NonNegativeWeight = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]


class WeightedOptions(BaseModel):
    """Options of the ``weighted`` scheduler (``[scheduler.options]``)."""

    model_config = ConfigDict(extra="forbid")

    weights: dict[str, NonNegativeWeight] = Field(
        default_factory=dict,
        description=(
            "weight per link id; a link not named here uses its configured link weight. "
            "A link weighted 0 is used only when every eligible link is weighted 0"
        ),
    )
    follow_admission: bool = Field(
        True,
        description=(
            "scale each weight by the lifecycle's admission ramp (0..1) so a link that "
            "is probing or warming earns traffic gradually"
        ),
    )


def eligible_links(links: Sequence[LinkView]) -> Sequence[LinkView]:
    """The usable links; all links if none is usable (sending beats a certain loss)."""
    usable = [link for link in links if link.usable]
    return usable if usable else links


class WeightedScheduler:
    """Smooth weighted round robin; weights from options, else ``LinkView.weight``."""

    def __init__(self, setup: SchedulerSetup) -> None:
        options = setup.options
        if not isinstance(options, WeightedOptions):
            options = WeightedOptions.model_validate(options.model_dump())
        self._overrides: dict[str, float] = dict(options.weights)
        self._follow_admission = options.follow_admission
        self._credit: dict[str, float] = {}

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Replace the per-link weights at run time; unnamed links fall back to their own.

        Raises ``ValueError`` for a negative or non-finite weight. Accumulated credit is
        kept, so the interleaving moves to the new ratio without a burst.
        """
        for link_id, weight in weights.items():
            if not math.isfinite(weight) or weight < 0.0:
                raise ValueError(
                    f"weight for link {link_id!r} must be finite and >= 0, got {weight}"
                )
        self._overrides = dict(weights)

    @property
    def weights(self) -> Mapping[str, float]:
        """The per-link weights currently set (from options or ``set_weights``)."""
        return dict(self._overrides)

    def _weight(self, link: LinkView) -> float:
        weight = self._overrides.get(link.link_id, link.weight)
        if self._follow_admission:
            weight *= link.admission
        return max(weight, 0.0)

    def _weights(self, links: Sequence[LinkView]) -> dict[str, float]:
        """Effective weight per eligible link; equal weights if they are all zero."""
        chosen = eligible_links(links)
        weights = {link.link_id: self._weight(link) for link in chosen}
        if weights and sum(weights.values()) <= 0.0:
            return dict.fromkeys(weights, 1.0)
        return weights

    def select(self, packet: PacketInfo, links: Sequence[LinkView], now_ns: int) -> Sequence[str]:
        """The one link whose credit is highest after this round's weights are added."""
        weights = self._weights(links)
        credit = self._credit
        for link in links:
            if link.link_id not in weights:
                # A link that sits out a round restarts from zero when it returns.
                credit.pop(link.link_id, None)
        best_id = ""
        best_credit = -math.inf
        total = 0.0
        for link_id, weight in weights.items():
            if weight <= 0.0:
                credit.pop(link_id, None)
                continue
            value = credit.get(link_id, 0.0) + weight
            credit[link_id] = value
            total += weight
            if value > best_credit:
                best_id, best_credit = link_id, value
        if not best_id:
            return ()
        credit[best_id] = best_credit - total
        return (best_id,)

    def shares(self, links: Sequence[LinkView], now_ns: int) -> Mapping[str, float]:
        """Each eligible link's weight over the sum of eligible weights."""
        weights = self._weights(links)
        total = sum(weights.values())
        return {link_id: weight / total for link_id, weight in weights.items()}

    def on_metrics(self, link: LinkView, now_ns: int) -> None:
        """Weights are static; metrics do not change them."""

    def on_link_added(self, link_id: str, now_ns: int) -> None:
        """A new link starts with no credit."""
        self._credit.pop(link_id, None)

    def on_link_removed(self, link_id: str, now_ns: int) -> None:
        """Forget the link's credit (a configured weight for its id is kept)."""
        self._credit.pop(link_id, None)
