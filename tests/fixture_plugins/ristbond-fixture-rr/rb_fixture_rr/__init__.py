"""A third-party plugin as a user would write it: one scheduler with its own options."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from ristbond_core import hookimpl
from ristbond_core.contracts import LinkView, PacketInfo, SchedulerSetup


class RoundRobinOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    burst: int = Field(1, ge=1, le=64, description="packets per link before moving on")


class RoundRobin:
    """Cycles over usable links, ``burst`` packets at a time."""

    def __init__(self, setup: SchedulerSetup) -> None:
        assert isinstance(setup.options, RoundRobinOptions)
        self.burst = setup.options.burst
        self.count = 0

    def select(self, packet: PacketInfo, links: Sequence[LinkView], now_ns: int) -> list[str]:
        usable = [link.link_id for link in links if link.usable]
        if not usable:
            return []
        choice = usable[(self.count // self.burst) % len(usable)]
        self.count += 1
        return [choice]

    def shares(self, links: Sequence[LinkView], now_ns: int) -> Mapping[str, float]:
        usable = [link.link_id for link in links if link.usable]
        return {link_id: 1 / len(usable) for link_id in usable}

    def on_metrics(self, link: LinkView, now_ns: int) -> None:
        return None

    def on_link_added(self, link_id: str, now_ns: int) -> None:
        return None

    def on_link_removed(self, link_id: str, now_ns: int) -> None:
        return None


@hookimpl
def ristbond_register_schedulers(registry) -> None:  # type: ignore[no-untyped-def]
    registry.add("fixture-rr", RoundRobin, options=RoundRobinOptions,
                 description="round robin (test fixture)")
