"""Random sequences of observations never break the lifecycle's invariants."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ristbond_core.contracts import LinkMetrics, LinkState
from ristbond_core.engine.lifecycle import (
    USABLE_STATES,
    LifecycleUsageError,
    LinkLifecycle,
)
from ristbond_core.engine.lifecycle_config import LifecycleConfig

MS = 1_000_000

# Short timers so that random walks of a few dozen steps visit every state.
FAST = LifecycleConfig(
    probe_duration_ms=50,
    fast_probe_duration_ms=20,
    probe_min_feedback_count=1,
    warm_duration_ms=100,
    warm_delivered_bytes=5_000,
    warm_min_feedback_count=2,
    degrade_hold_ms=30,
    recover_hold_ms=100,
    degrade_max_ms=300,
    stale_after_ms=200,
    blackhole_after_ms=150,
    cooldown_ms=100,
    cooldown_max_ms=400,
    stable_live_ms=500,
    baseline_window_ms=2_000,
)

_value = st.one_of(
    st.floats(min_value=0, max_value=2_000, allow_nan=False),
    st.sampled_from([float("nan"), float("inf"), -1.0, 0.0]),
)
metrics_strategy = st.builds(
    LinkMetrics,
    rtt_ms=st.one_of(st.none(), _value),
    min_rtt_ms=st.one_of(st.none(), _value),
    loss=st.one_of(st.floats(min_value=0, max_value=1), st.sampled_from([1.5, -0.1])),
    jitter_ms=_value,
    delivery_rate_bps=st.one_of(st.none(), _value.map(lambda v: v * 10_000)),
)

sane_metrics = st.builds(
    LinkMetrics,
    rtt_ms=st.floats(min_value=30, max_value=60),
    min_rtt_ms=st.just(30.0),
    loss=st.floats(min_value=0, max_value=0.05),
    jitter_ms=st.floats(min_value=0, max_value=4),
    delivery_rate_bps=st.floats(min_value=1e6, max_value=1.2e6),
)
bad_metrics = st.builds(
    LinkMetrics, rtt_ms=st.just(500.0), min_rtt_ms=st.just(30.0), loss=st.just(0.5)
)

rare_operation = st.one_of(
    st.tuples(st.just("attach")),
    st.tuples(st.just("detach")),
    st.tuples(st.just("address")),
    st.tuples(st.just("feedback"), metrics_strategy, st.integers(min_value=-100, max_value=50_000)),
    st.tuples(st.just("advance"), st.integers(min_value=-50, max_value=400)),
)
operation = st.one_of(
    # Plausible traffic most of the time, so walks reach warm, live and degrade ...
    st.tuples(st.just("attach")),
    st.tuples(st.just("feedback"), sane_metrics, st.integers(min_value=500, max_value=3_000)),
    st.tuples(st.just("feedback"), sane_metrics, st.integers(min_value=500, max_value=3_000)),
    st.tuples(st.just("feedback"), bad_metrics, st.integers(min_value=0, max_value=3_000)),
    st.tuples(st.just("sent"), st.integers(min_value=0, max_value=20_000)),
    st.tuples(st.just("burst"), st.sampled_from(["sane", "bad"]), st.integers(1, 40)),
    st.tuples(st.just("advance"), st.integers(min_value=0, max_value=40)),
    st.tuples(st.just("advance"), st.integers(min_value=0, max_value=40)),
    st.tuples(st.just("deadline")),
    # ... and anything at all now and then.
    rare_operation,
)

SANE_SAMPLE = LinkMetrics(rtt_ms=35.0, min_rtt_ms=30.0, loss=0.0, jitter_ms=1.0)
BAD_SAMPLE = LinkMetrics(rtt_ms=500.0, min_rtt_ms=30.0, loss=0.5, jitter_ms=1.0)
NOT_USABLE = {LinkState.INIT, LinkState.RESET, LinkState.COOLDOWN}


@settings(max_examples=200)
@given(st.lists(operation, min_size=40, max_size=200))
def test_random_inputs_keep_invariants(ops: list[tuple[Any, ...]]) -> None:
    lifecycle = LinkLifecycle("sat0", FAST)
    now = 0
    newest: int | None = None  # the newest instant fed in; the lifecycle holds time there
    for op in ops:
        before = lifecycle.state
        kind = op[0]
        fed = True  # whether this step handed the lifecycle an instant
        if kind == "attach":
            if before is LinkState.INIT:
                lifecycle.on_attach(now)
            else:
                with pytest.raises(LifecycleUsageError):  # attaching an attached link
                    lifecycle.on_attach(now)
        elif kind == "detach":
            if before is LinkState.INIT:
                with pytest.raises(LifecycleUsageError):  # detaching a detached link
                    lifecycle.on_detach(now)
            else:
                lifecycle.on_detach(now)
        elif kind == "address":
            lifecycle.on_address_change(now)
        elif kind == "sent":
            lifecycle.on_sent(op[1], now)
        elif kind == "feedback":
            lifecycle.on_feedback(op[1], now, delivered_bytes=op[2])
        elif kind == "burst":  # feedback every 10 ms for a while, sane or bad
            sample = SANE_SAMPLE if op[1] == "sane" else BAD_SAMPLE
            for _ in range(op[2]):
                now += 10 * MS
                lifecycle.on_feedback(sample, now, delivered_bytes=1_000)
        elif kind == "advance":
            now += op[1] * MS  # negative steps model a clock stepping backwards
            lifecycle.on_deadline(now)
        else:
            deadline = lifecycle.next_deadline()
            if deadline is not None:
                now = max(now, deadline)
                lifecycle.on_deadline(now)
            fed = deadline is not None
        if fed:
            newest = now if newest is None else max(newest, now)

        state = lifecycle.state
        assert state in LinkState
        assert 0.0 <= lifecycle.admission <= 1.0
        assert lifecycle.usable == (state in USABLE_STATES)
        if state in NOT_USABLE:
            assert not lifecycle.usable
            assert lifecycle.admission == 0.0
        events = lifecycle.drain_events()
        if state is before:
            # A round trip within one call is allowed, but then it is fully reported.
            assert not events or events[-1].new is state
        else:
            assert events, "a state change must be reported"
        previous = before
        for event in events:
            assert event.old is previous
            assert event.new is not event.old
            assert event.link_id == "sat0"
            assert newest is not None and event.at_ns <= newest
            previous = event.new
        assert previous is state
        deadline = lifecycle.next_deadline()
        assert deadline is None or newest is None or deadline > newest
