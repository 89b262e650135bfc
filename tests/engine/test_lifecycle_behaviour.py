"""Lifecycle behaviour under realistic link conditions: outages, flapping, returns."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from ristbond_core.contracts import LinkMetrics, LinkState
from ristbond_core.engine.lifecycle import USABLE_STATES, LinkLifecycle
from ristbond_core.engine.lifecycle_config import LifecycleConfig

from ._driver import BAD_LOSS, BAD_RTT, GOOD, MS, TICK_MS, driver_in


@pytest.mark.parametrize("state", [LinkState.PROBE, LinkState.WARM, LinkState.LIVE])
def test_blackholed_link_is_demoted_within_blackhole_after_ms(state: LinkState) -> None:
    d = driver_in(state)
    lifecycle = d.lifecycle
    last_confirmed = d.now_ns
    first_silent_send = last_confirmed + TICK_MS * MS
    lifecycle.on_sent(1316, first_silent_send)
    deadline = lifecycle.next_deadline()
    assert deadline is not None
    assert deadline <= first_silent_send + d.config.blackhole_after_ms * MS
    # Keep sending every tick, no feedback; a runtime wakes at each deadline.
    d.now_ns = first_silent_send
    d.run(d.config.blackhole_after_ms + TICK_MS, metrics=None, send_bytes_per_tick=1316)
    demotion = d.events[-1]
    assert demotion.new is LinkState.COOLDOWN
    assert demotion.reason.startswith("blackhole: ")
    assert demotion.at_ns - first_silent_send <= (d.config.blackhole_after_ms + TICK_MS) * MS
    assert not lifecycle.usable
    assert lifecycle.admission == 0.0


def test_blackhole_fires_exactly_at_its_deadline() -> None:
    d = driver_in(LinkState.LIVE)
    lifecycle = d.lifecycle
    start = d.now_ns + TICK_MS * MS
    lifecycle.on_sent(1000, start)
    deadline = lifecycle.next_deadline()
    assert deadline is not None
    lifecycle.on_deadline(deadline - 1)
    assert lifecycle.state is LinkState.LIVE
    lifecycle.on_deadline(deadline)
    assert lifecycle.state is LinkState.COOLDOWN


def test_echo_only_feedback_keeps_a_link_fresh_but_not_out_of_the_blackhole() -> None:
    d = driver_in(LinkState.LIVE)
    d.run(d.config.blackhole_after_ms + 100, delivered_bytes=0, send_bytes_per_tick=1316)
    assert d.state is LinkState.COOLDOWN
    assert d.events[-1].reason.startswith("blackhole: ")


def test_idle_link_without_feedback_goes_stale_to_reset() -> None:
    d = driver_in(LinkState.LIVE)
    silent_from = d.now_ns
    d.run(d.config.stale_after_ms + TICK_MS, metrics=None)
    reset = d.events[-1]
    assert (reset.old, reset.new) == (LinkState.LIVE, LinkState.RESET)
    assert reset.reason.startswith("stale: ")
    assert reset.at_ns - silent_from <= (d.config.stale_after_ms + TICK_MS) * MS
    assert not d.lifecycle.usable


def test_reset_link_reprobes_once_feedback_returns_and_rest_elapsed() -> None:
    d = driver_in(LinkState.RESET)
    rest_until = d.lifecycle.rest_until_ns
    assert rest_until is not None
    d.run_until(LinkState.PROBE)
    assert d.now_ns >= rest_until
    assert d.events[-1].reason.startswith("feedback_ok: ")


def test_link_flapping_in_quality_every_second_is_damped() -> None:
    d = driver_in(LinkState.LIVE)
    start = len(d.events)
    for _ in range(30):  # one minute: 1 s clean, 1 s with RTT five times its baseline
        d.run(1000)
        d.run(1000, metrics=BAD_RTT)
    changes = d.events[start:]
    # It degrades once and stays degraded: 1 s of clean quality never earns recovery.
    assert [(e.old, e.new) for e in changes] == [(LinkState.LIVE, LinkState.DEGRADE)]
    assert d.lifecycle.usable
    assert d.lifecycle.admission == d.config.degrade_admission_share


def test_link_flapping_up_and_down_rests_longer_each_time() -> None:
    d = driver_in(LinkState.LIVE)
    for _ in range(30):  # two minutes: 2 s up, 2 s down, traffic whenever usable
        d.run(2000, send_bytes_per_tick=1316 if d.lifecycle.usable else 0)
        d.run(2000, metrics=None, send_bytes_per_tick=1316 if d.lifecycle.usable else 0)
    demotions = [
        e
        for e in d.events
        if e.new in (LinkState.COOLDOWN, LinkState.RESET) and e.old in USABLE_STATES
    ]
    gaps = [b.at_ns - a.at_ns for a, b in itertools.pairwise(demotions)]
    # Undamped, a 4 s cycle would demote 30 times; the doubling rest keeps it rare.
    assert len(demotions) <= 8
    assert gaps == sorted(gaps)
    assert gaps[-1] >= d.config.cooldown_max_ms * MS


def test_returning_link_ramps_with_delivered_bytes_not_with_time() -> None:
    d = driver_in(LinkState.WARM)
    start = d.lifecycle.admission
    assert start == pytest.approx(d.config.ramp_start_share, abs=0.2)
    # Ten seconds of feedback that confirms nothing: admission does not grow.
    d.run(10_000, delivered_bytes=0)
    assert d.state is LinkState.WARM
    assert d.lifecycle.admission == pytest.approx(d.config.ramp_start_share)
    # Admission then grows report by report, with the bytes the peer confirms.
    seen = []
    while d.state is LinkState.WARM:
        d.run(100, delivered_bytes=10_000)
        seen.append(d.lifecycle.admission)
    assert d.state is LinkState.LIVE
    assert seen == sorted(seen)
    assert len(seen) >= 10


def test_returning_link_never_jumps_to_full_admission() -> None:
    d = driver_in(LinkState.LIVE)
    d.run(d.config.stale_after_ms + 100, metrics=None)
    assert d.state is LinkState.RESET
    d.run_until(LinkState.PROBE)
    admissions = []
    while d.state is not LinkState.LIVE:
        d.run(TICK_MS)
        admissions.append(d.lifecycle.admission)
    first_warm = next(a for a in admissions if a > d.config.probe_admission_share)
    assert first_warm <= d.config.ramp_start_share + 0.2
    assert admissions[0] == d.config.probe_admission_share


def test_address_change_forgets_baseline_and_probes_fast() -> None:
    d = driver_in(LinkState.LIVE)
    assert d.lifecycle.baseline.min_rtt_ms == 40.0
    d.lifecycle.on_address_change(d.now_ns)
    d.collect()
    assert d.state is LinkState.PROBE
    assert d.lifecycle.baseline.min_rtt_ms is None
    changed_at = d.now_ns
    d.run_until(LinkState.WARM, metrics=replace(GOOD, rtt_ms=90.0, min_rtt_ms=90.0))
    assert d.now_ns - changed_at <= (d.config.fast_probe_duration_ms + 100) * MS
    # The new path's RTT is the new normal, not a degradation.
    assert d.lifecycle.baseline.min_rtt_ms == 90.0


def test_reattach_probes_fast() -> None:
    d = driver_in(LinkState.LIVE)
    d.lifecycle.on_detach(d.now_ns)
    assert d.state is LinkState.INIT
    assert not d.lifecycle.usable
    d.attach()
    attached_at = d.now_ns
    d.run_until(LinkState.WARM)
    assert d.now_ns - attached_at < d.config.probe_duration_ms * MS


def test_degraded_link_recovers_only_after_clean_hold() -> None:
    d = driver_in(LinkState.DEGRADE)
    d.run(d.config.recover_hold_ms - 200)
    assert d.state is LinkState.DEGRADE
    d.run(400)
    assert d.state is LinkState.LIVE


def test_a_degraded_link_is_rested_only_while_another_link_is_live() -> None:
    # With no other link live, resting this one would leave the stream to links that
    # are probing, warming or just as bad: it stays in service, degraded.
    d = driver_in(LinkState.DEGRADE)
    d.lifecycle.set_another_live(False)
    d.run(d.config.degrade_max_ms + 2_000, metrics=BAD_LOSS)
    assert d.state is LinkState.DEGRADE
    # Once another link is live, the long bad spell rests it at the next chance.
    d.lifecycle.set_another_live(True)
    d.run(200, metrics=BAD_LOSS)
    assert d.state is LinkState.COOLDOWN
    assert d.events[-1].reason.startswith("still_degraded: loss")


def test_a_long_rtt_alone_degrades_a_link_but_never_rests_it() -> None:
    # A link whose round trip doubled still delivers (a longer route, a queue the
    # scheduler can weigh): resting it took a 4.8 Mbit/s link out of race-car while
    # the other two could not carry the stream, and 0.3 % of it was lost.
    d = driver_in(LinkState.DEGRADE)
    d.lifecycle.set_another_live(True)
    d.run(3 * d.config.degrade_max_ms, metrics=BAD_RTT)
    assert d.state is LinkState.DEGRADE
    # The RTT spell does not count towards a loss spell that follows it.
    d.run(d.config.degrade_max_ms - 500, metrics=replace(BAD_RTT, loss=0.3))
    assert d.state is LinkState.DEGRADE
    d.run(1_000, metrics=replace(BAD_RTT, loss=0.3))
    assert d.state is LinkState.COOLDOWN
    assert d.events[-1].reason.startswith("still_degraded: loss")


def test_a_degraded_link_that_stops_delivering_is_taken_out_even_if_it_is_the_last() -> None:
    d = driver_in(LinkState.DEGRADE)
    d.lifecycle.set_another_live(False)
    d.run_until(LinkState.COOLDOWN, metrics=None, send_bytes_per_tick=1316)
    assert d.events[-1].reason.startswith("blackhole")


@pytest.mark.parametrize(
    ("bad", "signal"),
    [
        (replace(GOOD, rtt_ms=200.0), "rtt"),
        (replace(GOOD, loss=0.3), "loss"),
        (replace(GOOD, jitter_ms=60.0), "jitter"),
    ],
)
def test_each_quality_signal_can_degrade_a_live_link(bad: LinkMetrics, signal: str) -> None:
    d = driver_in(LinkState.LIVE)
    d.run(d.config.degrade_hold_ms + 200, metrics=bad)
    assert d.state is LinkState.DEGRADE
    assert d.events[-1].reason.startswith(f"degraded: {signal}")


def test_erratic_delivery_rate_degrades_a_live_link() -> None:
    d = driver_in(LinkState.LIVE)
    for i in range(40):
        rate = 4e6 if i % 2 else 0.2e6  # std/mean 0.9 while the offered load is steady
        d.run(100, metrics=replace(GOOD, delivery_rate_bps=rate), send_bytes_per_tick=2_500)
    assert d.state is LinkState.DEGRADE
    assert "delivery-rate variation" in d.events[-1].reason


def test_delivery_that_follows_the_offered_load_does_not_degrade() -> None:
    # The scheduler moves load on and off the link: delivery varies, but it matches
    # what was offered, so the link is fine.
    d = driver_in(LinkState.LIVE)
    for i in range(40):
        offered = 4_000 if i % 2 else 200
        rate = offered * 8 * 1000.0 / TICK_MS
        d.run(100, metrics=replace(GOOD, delivery_rate_bps=rate), send_bytes_per_tick=offered)
    assert d.state is LinkState.LIVE


def test_input_stopping_does_not_degrade_a_live_link() -> None:
    d = driver_in(LinkState.LIVE)
    d.run(2000, metrics=GOOD)
    for _ in range(40):  # nothing offered any more; reports say nothing arrives
        d.run(100, metrics=replace(GOOD, delivery_rate_bps=0.0), send_bytes_per_tick=0)
    assert d.state is LinkState.LIVE


def test_quality_near_baseline_does_not_degrade() -> None:
    d = driver_in(LinkState.LIVE)
    d.run(20_000, metrics=replace(GOOD, rtt_ms=80.0, loss=0.05, jitter_ms=5.0))
    assert d.state is LinkState.LIVE


def test_long_healthy_stint_forgives_earlier_demotions() -> None:
    config = LifecycleConfig(stable_live_ms=5_000)
    d = driver_in(LinkState.LIVE, config)
    d.run(1200, metrics=None, send_bytes_per_tick=1316)
    assert d.lifecycle.demotions == 1
    d.run_until(LinkState.LIVE)
    d.run(1200, metrics=None, send_bytes_per_tick=1316)
    assert d.lifecycle.demotions == 2
    d.run_until(LinkState.LIVE)
    d.run(6_000)
    d.run(1200, metrics=None, send_bytes_per_tick=1316)
    assert d.lifecycle.demotions == 1


def test_feedback_on_detached_link_is_ignored() -> None:
    lifecycle = LinkLifecycle("wifi")
    lifecycle.on_feedback(GOOD, 5 * MS, delivered_bytes=100)
    assert lifecycle.state is LinkState.INIT
    assert lifecycle.ignored_count == 1
    assert lifecycle.drain_events() == []


@pytest.mark.parametrize(
    "metrics",
    [
        replace(GOOD, rtt_ms=float("nan")),
        replace(GOOD, loss=1.5),
        replace(GOOD, jitter_ms=-1.0),
        replace(GOOD, delivery_rate_bps=float("inf")),
    ],
)
def test_garbage_feedback_is_ignored_not_raised(metrics: LinkMetrics) -> None:
    d = driver_in(LinkState.LIVE)
    before = d.lifecycle.ignored_count
    d.lifecycle.on_feedback(metrics, d.now_ns + MS, delivered_bytes=10)
    assert d.lifecycle.ignored_count == before + 1
    assert d.state is LinkState.LIVE


def test_clock_stepping_back_does_not_break_timers() -> None:
    d = driver_in(LinkState.LIVE)
    later = d.now_ns
    d.lifecycle.on_sent(1000, later - 5_000 * MS)  # a clock step backwards
    deadline = d.lifecycle.next_deadline()
    assert deadline is not None
    assert deadline > later
    d.lifecycle.on_deadline(later + d.config.blackhole_after_ms * MS)
    assert d.state is LinkState.COOLDOWN


def test_view_reports_the_lifecycle_verdict() -> None:
    d = driver_in(LinkState.PROBE)
    view = d.lifecycle.view(GOOD, weight=2.0)
    assert view.link_id == "cell0"
    assert view.state is LinkState.PROBE
    assert view.usable
    assert view.admission == d.config.probe_admission_share
    assert view.metrics is GOOD
    assert view.weight == 2.0
