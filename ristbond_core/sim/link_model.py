"""A simulated one-way path: delay, jitter, loss, rate with a finite queue, outages.

Beyond independent (Bernoulli) loss a path can lose in bursts (Gilbert–Elliott),
duplicate datagrams and reorder some of them by holding them back. Every random draw
comes from the injected ``random.Random``, so one seed gives one run; a feature that is
switched off draws nothing, so adding features never changes older runs. Time is
virtual (integer ns); nothing here sleeps or reads a clock.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass


@dataclass(slots=True)
class LinkModel:
    """Impairments of one link direction; fields can be changed mid-run (scenarios).

    ``ge_p``/``ge_r`` are the Gilbert–Elliott good→bad and bad→good transition
    probabilities per datagram; in the bad state a datagram is lost with ``ge_loss_bad``,
    in the good state with ``loss``. ``duplicate`` is the chance a datagram arrives
    twice; ``reorder`` the chance it is held back ``reorder_ms`` (so later ones pass it).
    """

    delay_ms: float = 20.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    rate_bps: float | None = None
    queue_packets: int = 1000
    up: bool = True
    preserve_order: bool = True
    ge_p: float = 0.0
    ge_r: float = 0.0
    ge_loss_bad: float = 1.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_ms: float = 10.0


class SimPath:
    """Decides, for each datagram offered at ``now_ns``, whether and when it arrives."""

    def __init__(self, model: LinkModel, rng: random.Random) -> None:
        self.model = model
        self.rng = rng
        self._busy_until_ns = 0
        self._last_arrival_ns = 0
        self._queue: deque[int] = deque()  # departure times, ascending
        self._bad = False  # Gilbert–Elliott state
        self.offered = 0
        self.dropped_loss = 0
        self.dropped_queue = 0
        self.dropped_outage = 0
        self.duplicated = 0
        self.reordered = 0

    def offer(self, size_bytes: int, now_ns: int) -> int | None:
        """Arrival time of a datagram sent now, or None if the path drops it.

        A duplicated datagram's second arrival is only reported by :meth:`offer_all`.
        """
        arrivals = self.offer_all(size_bytes, now_ns)
        return arrivals[0] if arrivals else None

    def offer_all(self, size_bytes: int, now_ns: int) -> list[int]:
        """Every arrival time of a datagram sent now: none, one, or two (duplicated)."""
        model = self.model
        self.offered += 1
        if not model.up:
            self.dropped_outage += 1
            return []
        departure = now_ns
        if model.rate_bps:
            while self._queue and self._queue[0] <= now_ns:
                self._queue.popleft()
            if len(self._queue) >= model.queue_packets:
                self.dropped_queue += 1
                return []
            start = max(now_ns, self._busy_until_ns)
            departure = start + int(size_bytes * 8 * 1e9 / model.rate_bps)
            self._busy_until_ns = departure
            self._queue.append(departure)
        if self._lost():
            self.dropped_loss += 1
            return []
        arrival = self._arrival(departure)
        if model.duplicate > 0 and self.rng.random() < model.duplicate:
            self.duplicated += 1
            return [arrival, self._arrival(departure)]
        return [arrival]

    def _lost(self) -> bool:
        model = self.model
        if model.ge_p > 0 or self._bad:
            # Transition first, then lose according to the state the datagram meets.
            if self._bad:
                self._bad = self.rng.random() >= model.ge_r
            else:
                self._bad = self.rng.random() < model.ge_p
            if self._bad:
                return self.rng.random() < model.ge_loss_bad
        return model.loss > 0 and self.rng.random() < model.loss

    def _arrival(self, departure_ns: int) -> int:
        model = self.model
        jitter_ns = 0
        if model.jitter_ms > 0:
            jitter_ns = int(self.rng.uniform(0.0, model.jitter_ms) * 1e6)
        arrival = departure_ns + int(model.delay_ms * 1e6) + jitter_ns
        if model.reorder > 0 and self.rng.random() < model.reorder:
            # Held back past its successors; never clamped by preserve_order.
            self.reordered += 1
            return arrival + int(model.reorder_ms * 1e6)
        if model.preserve_order:
            arrival = max(arrival, self._last_arrival_ns)
        self._last_arrival_ns = max(self._last_arrival_ns, arrival)
        return arrival

    def reset_queue(self) -> None:
        """Forget queued departures (the path behind a new address starts empty)."""
        self._queue.clear()
        self._busy_until_ns = 0
        self._last_arrival_ns = 0
