"""A simulated one-way path: delay, jitter, loss, rate with a finite queue, outages.

Every random draw comes from the injected ``random.Random``, so one seed gives one
run. Time is virtual (integer ns); nothing here sleeps or reads a clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(slots=True)
class LinkModel:
    """Impairments of one link direction; fields can be changed mid-run (scenarios)."""

    delay_ms: float = 20.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    rate_bps: float | None = None
    queue_packets: int = 1000
    up: bool = True
    preserve_order: bool = True


class SimPath:
    """Decides, for each datagram offered at ``now_ns``, whether and when it arrives."""

    def __init__(self, model: LinkModel, rng: random.Random) -> None:
        self.model = model
        self.rng = rng
        self._busy_until_ns = 0
        self._last_arrival_ns = 0
        self._queue: list[int] = []  # departure times of queued packets
        self.offered = 0
        self.dropped_loss = 0
        self.dropped_queue = 0
        self.dropped_outage = 0

    def offer(self, size_bytes: int, now_ns: int) -> int | None:
        """Arrival time of a datagram sent now, or None if the path drops it."""
        model = self.model
        self.offered += 1
        if not model.up:
            self.dropped_outage += 1
            return None
        departure = now_ns
        if model.rate_bps:
            self._queue = [t for t in self._queue if t > now_ns]
            if len(self._queue) >= model.queue_packets:
                self.dropped_queue += 1
                return None
            start = max(now_ns, self._busy_until_ns)
            departure = start + int(size_bytes * 8 * 1e9 / model.rate_bps)
            self._busy_until_ns = departure
            self._queue.append(departure)
        if model.loss > 0 and self.rng.random() < model.loss:
            self.dropped_loss += 1
            return None
        jitter_ns = 0
        if model.jitter_ms > 0:
            jitter_ns = int(self.rng.uniform(0.0, model.jitter_ms) * 1e6)
        arrival = departure + int(model.delay_ms * 1e6) + jitter_ns
        if model.preserve_order:
            arrival = max(arrival, self._last_arrival_ns)
        self._last_arrival_ns = max(self._last_arrival_ns, arrival)
        return arrival
