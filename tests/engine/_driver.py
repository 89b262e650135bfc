"""Drives a LinkLifecycle through time with scripted feedback, like a sender engine would."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ristbond_core.contracts import LinkMetrics, LinkState
from ristbond_core.engine.lifecycle import LinkLifecycle
from ristbond_core.engine.lifecycle_config import LifecycleConfig
from ristbond_core.events import LinkStateChanged

MS = 1_000_000
TICK_MS = 10
FEEDBACK_EVERY_MS = 100

GOOD = LinkMetrics(rtt_ms=40.0, min_rtt_ms=40.0, loss=0.0, jitter_ms=2.0, delivery_rate_bps=2e6)
BAD_RTT = replace(GOOD, rtt_ms=200.0, min_rtt_ms=40.0)
BAD_LOSS = replace(GOOD, loss=0.3)


@dataclass
class Driver:
    """A link on a virtual clock: each tick may send, feedback arrives every 100 ms."""

    config: LifecycleConfig = field(default_factory=LifecycleConfig)
    now_ns: int = 0
    events: list[LinkStateChanged] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lifecycle = LinkLifecycle("cell0", self.config)

    @property
    def state(self) -> LinkState:
        return self.lifecycle.state

    def collect(self) -> list[LinkStateChanged]:
        new = self.lifecycle.drain_events()
        self.events.extend(new)
        return new

    def attach(self) -> None:
        self.lifecycle.on_attach(self.now_ns)
        self.collect()

    def run(
        self,
        duration_ms: int,
        *,
        metrics: LinkMetrics | None = GOOD,
        delivered_bytes: int = 20_000,
        send_bytes_per_tick: int = 0,
    ) -> None:
        """Advance ``duration_ms`` in 10 ms ticks; ``metrics=None`` means no feedback."""
        end = self.now_ns + duration_ms * MS
        while self.now_ns < end:
            self.now_ns += TICK_MS * MS
            if send_bytes_per_tick:
                self.lifecycle.on_sent(send_bytes_per_tick, self.now_ns)
            if metrics is not None and (self.now_ns // MS) % FEEDBACK_EVERY_MS == 0:
                self.lifecycle.on_feedback(metrics, self.now_ns, delivered_bytes=delivered_bytes)
            else:
                self.lifecycle.on_deadline(self.now_ns)
            self.collect()

    def run_until(
        self,
        state: LinkState,
        *,
        limit_ms: int = 60_000,
        metrics: LinkMetrics | None = GOOD,
        send_bytes_per_tick: int = 0,
    ) -> None:
        """Run in 10 ms steps until ``state`` is reached (fails after ``limit_ms``)."""
        waited = 0
        while self.state is not state:
            assert waited < limit_ms, f"still {self.state.value} after {limit_ms} ms"
            self.run(TICK_MS, metrics=metrics, send_bytes_per_tick=send_bytes_per_tick)
            waited += TICK_MS


def driver_in(state: LinkState, config: LifecycleConfig | None = None) -> Driver:
    """A driver whose link reached ``state`` the way a real link would."""
    d = Driver(config or LifecycleConfig())
    if state is LinkState.INIT:
        return d
    d.attach()
    if state is LinkState.PROBE:
        return d
    if state is LinkState.RESET:
        d.run_until(LinkState.RESET, metrics=None)
        return d
    d.run_until(LinkState.WARM)
    if state is LinkState.WARM:
        return d
    d.run_until(LinkState.LIVE)
    if state is LinkState.LIVE:
        return d
    if state is LinkState.DEGRADE:
        d.run_until(LinkState.DEGRADE, metrics=BAD_RTT)
        return d
    assert state is LinkState.COOLDOWN
    d.run_until(LinkState.COOLDOWN, metrics=None, send_bytes_per_tick=1316)
    return d
