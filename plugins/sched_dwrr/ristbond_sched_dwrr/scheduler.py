"""``dwrr``: deficit weighted round robin over byte deficits.

A cursor walks the eligible links in order. Arriving at a link grants it a quantum
of bytes (``quantum_bytes`` scaled by its weight relative to the heaviest link);
the link carries packets while its deficit covers them, then the cursor moves on
and the leftover deficit waits for the next visit. Over a run, bytes follow the
weights exactly up to one packet per link, whatever the packet sizes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ristbond_core.contracts import LinkView, PacketInfo, SchedulerSetup
from ristbond_sched_dwrr.options import DwrrOptions
from ristbond_sched_dwrr.weights import LinkWeigher

PENALTY_REFRESH_NS = 10_000_000
"""While a penalty recovers, weights are refreshed at most this often (10 ms)."""

RATE_WINDOW_NS = 1_000_000_000
"""The stream's rate (what steering shares out) is measured over windows this long."""


class DwrrScheduler:
    """Byte-deficit round robin whose weights follow link metrics and lifecycle."""

    def __init__(self, setup: SchedulerSetup) -> None:
        options = setup.options
        if not isinstance(options, DwrrOptions):
            options = DwrrOptions.model_validate(options.model_dump())
        self._options = options
        self._weigher = LinkWeigher(options)
        self._views: dict[str, LinkView] = {}
        self._weights: dict[str, float] = {}
        self._order: tuple[str, ...] = ()
        self._quantum: dict[str, float] = {}
        self._deficit: dict[str, float] = {}
        self._cursor = 0
        self._granted = False
        self._refresh_at_ns = 0
        self._seen_ids: tuple[str, ...] = ()
        #: The views sequence synced last, when it is a tuple (immutable).
        self._synced: Sequence[LinkView] | None = None
        # The stream's rate (for steering and the capacity cap): bytes placed since the
        # window began.
        self._needs_rate = (options.steering_half_loss is not None
                            or options.capacity_cap_ratio is not None)
        self._placed_bytes = 0
        self._window_start_ns: int | None = None
        self._stream_bps: float | None = None

    # -- the engine's notifications ----------------------------------------------------

    def on_metrics(self, link: LinkView, now_ns: int) -> None:
        """Take the new view into account and recompute weights at once."""
        self._observe(link, now_ns)
        self._recompute(tuple(self._views.values()), now_ns)

    def on_link_added(self, link_id: str, now_ns: int) -> None:
        """A (re)joining link starts with an empty deficit and no history."""
        self._forget(link_id)

    def on_link_removed(self, link_id: str, now_ns: int) -> None:
        """Forget the link and recompute the others' weights."""
        self._forget(link_id)
        self._recompute(tuple(self._views.values()), now_ns)

    # -- the per-packet path --------------------------------------------------------------

    def select(self, packet: PacketInfo, links: Sequence[LinkView], now_ns: int) -> Sequence[str]:
        """The link whose turn it is and whose deficit covers ``packet``."""
        size = packet.size_bytes
        self._sync(links, now_ns, force=self._needs_rate and self._measure(size, now_ns))
        order = self._order
        if not order:
            return ()
        deficit = self._deficit
        quantum = self._quantum
        # The heaviest link earns quantum_bytes per round, so a packet always fits
        # within this many rounds; the bound only guards against misuse.
        visits = len(order) * (size // self._options.quantum_bytes + 2)
        cursor = self._cursor
        granted = self._granted
        for _ in range(visits):
            link_id = order[cursor]
            if not granted:
                deficit[link_id] += quantum[link_id]
                granted = True
            if deficit[link_id] >= size:
                deficit[link_id] -= size
                self._cursor, self._granted = cursor, granted
                return (link_id,)
            cursor = (cursor + 1) % len(order)
            granted = False
        # Unreachable with valid input; still answer with the richest link.
        link_id = max(order, key=deficit.__getitem__)
        deficit[link_id] = 0.0
        self._cursor, self._granted = cursor, granted
        return (link_id,)

    def shares(self, links: Sequence[LinkView], now_ns: int) -> Mapping[str, float]:
        """Each eligible link's weight over the sum of eligible weights, as of ``now_ns``."""
        self._sync(links, now_ns, force=True)
        total = sum(self._weights.values())
        if total <= 0.0:
            return {}
        return {link_id: weight / total for link_id, weight in self._weights.items()}

    # -- internals ---------------------------------------------------------------------------

    def _measure(self, size: int, now_ns: int) -> bool:
        """Count a placed packet; True when a window closed and the rate is new."""
        start = self._window_start_ns
        self._placed_bytes += size
        if start is not None and 0 <= now_ns - start < RATE_WINDOW_NS:
            return False
        if start is not None and now_ns > start:
            self._stream_bps = (self._placed_bytes - size) * 8e9 / (now_ns - start)
        self._window_start_ns, self._placed_bytes = now_ns, size
        return start is not None

    def _observe(self, view: LinkView, now_ns: int) -> None:
        self._weigher.observe(view, now_ns)
        self._views[view.link_id] = view

    def _forget(self, link_id: str) -> None:
        self._views.pop(link_id, None)
        self._deficit.pop(link_id, None)
        self._weigher.forget(link_id)

    def _sync(self, links: Sequence[LinkView], now_ns: int, *, force: bool = False) -> None:
        """Catch up with views that changed since we saw them; recompute if needed.

        Engines hand the same (immutable) sequence of views until a view changes, so
        the one seen last needs no second look unless a penalty is wearing off.
        """
        if links is self._synced and not force and not self._weigher.recovering():
            return
        self._synced = links if isinstance(links, tuple) else None
        changed = force
        views = self._views
        for link in links:
            seen = views.get(link.link_id)
            if seen is not link and seen != link:
                self._observe(link, now_ns)
                changed = True
        if not changed and self._weigher.recovering():
            refresh_at = self._refresh_at_ns
            changed = now_ns >= refresh_at or now_ns < refresh_at - PENALTY_REFRESH_NS
        seen_ids = self._seen_ids
        if changed or len(links) != len(seen_ids) or not _same_ids(links, seen_ids):
            self._recompute(links, now_ns)
            self._seen_ids = tuple(link.link_id for link in links)

    def _recompute(self, links: Sequence[LinkView], now_ns: int) -> None:
        """New weights, quanta and round order for the eligible links in ``links``."""
        eligible = [link for link in links if link.usable] or list(links)
        weights = self._weigher.weights(eligible, now_ns, self._stream_bps)
        heaviest = max(weights.values(), default=0.0)
        quantum_bytes = self._options.quantum_bytes
        order = tuple(weights)
        current = self._order[self._cursor] if self._order else None
        deficit = self._deficit
        for link_id in list(deficit):
            if link_id not in weights:
                del deficit[link_id]  # sitting out a round forfeits saved credit
        for link_id in order:
            deficit.setdefault(link_id, 0.0)
        self._weights = weights
        self._quantum = {
            link_id: quantum_bytes * weight / heaviest if heaviest > 0.0 else 0.0
            for link_id, weight in weights.items()
        }
        if order != self._order:
            if current in weights:
                self._cursor = order.index(current)
            else:
                self._cursor, self._granted = 0, False
            self._order = order
        self._refresh_at_ns = now_ns + PENALTY_REFRESH_NS
        self._seen_ids = ()


def _same_ids(links: Sequence[LinkView], ids: tuple[str, ...]) -> bool:
    """Whether ``links`` are the links ``ids`` names, in the same order."""
    return all(link.link_id == link_id for link, link_id in zip(links, ids, strict=True))
