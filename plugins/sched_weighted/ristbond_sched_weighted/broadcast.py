"""``broadcast``: every packet on every usable link (SMPTE ST 2022-7 style redundancy).

The receiver merges by sequence number, so any one link delivering a packet is
enough; the cost is one full copy of the stream per link.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ristbond_core.contracts import LinkView, PacketInfo, SchedulerSetup


class BroadcastScheduler:
    """Selects all usable links for each packet (all links if none is usable)."""

    #: Every packet goes on every link: a session transport duplicates instead of
    #: splitting by ``shares()``.
    duplicates = True

    def __init__(self, setup: SchedulerSetup) -> None:
        # No options and no randomness: the answer depends only on the links.
        del setup

    def select(self, packet: PacketInfo, links: Sequence[LinkView], now_ns: int) -> Sequence[str]:
        """Every usable link id, in the order the links were given."""
        usable = tuple(link.link_id for link in links if link.usable)
        return usable if usable else tuple(link.link_id for link in links)

    def shares(self, links: Sequence[LinkView], now_ns: int) -> Mapping[str, float]:
        """Each carrying link sends a full copy, so each carries an equal part of the copies."""
        carrying = [link.link_id for link in links if link.usable] or [
            link.link_id for link in links
        ]
        return dict.fromkeys(carrying, 1.0 / len(carrying)) if carrying else {}

    def on_metrics(self, link: LinkView, now_ns: int) -> None:
        """Metrics do not matter: only the lifecycle's ``usable`` verdict does."""

    def on_link_added(self, link_id: str, now_ns: int) -> None:
        """Nothing to remember per link."""

    def on_link_removed(self, link_id: str, now_ns: int) -> None:
        """Nothing to forget per link."""
