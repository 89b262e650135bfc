"""``dwrr`` steering: a lossy link's part moves to clean links as far as they have room."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError
from ristbond_sched_dwrr import DwrrOptions

from ristbond_core.contracts import LinkView, Scheduler
from ristbond_core.sim.metrics import compute_metrics
from ristbond_core.sim.runner import run_scenario
from ristbond_core.sim.scenario import load_scenario
from ristbond_core.testing.conformance import (
    PACKET_INTERVAL_NS,
    TS_PAYLOAD_BYTES,
    byte_fractions,
    make_link,
    run_stream,
)

MBIT = 1_000_000.0
#: run_stream's stream: one 1316-byte packet per millisecond.
STREAM_BPS = TS_PAYLOAD_BYTES * 8 * 1e9 / PACKET_INTERVAL_NS
WINDOW = 1_000  # packets in one rate window (1 s)


def measured(link_id: str, capacity_bps: float, loss: float = 0.0) -> LinkView:
    link = make_link(link_id, capacity_bps=capacity_bps, loss=loss)
    return replace(link, metrics=replace(link.metrics, capacity_measured=True))


def settled(scheduler: Scheduler, links: list[LinkView]) -> Scheduler:
    """Announce ``links`` and run one rate window, so the scheduler knows the stream."""
    for link in links:
        scheduler.on_link_added(link.link_id, 0)
        scheduler.on_metrics(link, 0)
    run_stream(scheduler, links, WINDOW + 1)
    return scheduler


def later_fractions(scheduler: Scheduler, links: list[LinkView]) -> dict[str, float]:
    result = run_stream(scheduler, links, 3 * WINDOW, start_ns=(WINDOW + 1) * PACKET_INTERVAL_NS)
    return byte_fractions(result.bytes_by_link)


@pytest.fixture
def dwrr(make_scheduler: Callable[..., Scheduler]) -> Callable[..., Scheduler]:
    """dwrr steering at a 3 % half-loss up to 80 % of a link's capacity unless the
    options say otherwise (round numbers for the arithmetic, not the defaults)."""

    def build(**options: Any) -> Scheduler:
        return make_scheduler("dwrr", **{"steering_half_loss": 0.03, "headroom": 0.8,
                                         **options})

    return build


def test_a_lossy_links_part_moves_to_a_clean_link_with_room(
    dwrr: Callable[..., Scheduler],
) -> None:
    links = [measured("a", 20 * MBIT, loss=0.05), measured("b", 20 * MBIT)]
    scheduler = settled(dwrr(), links)
    # Preference: 0.95^4 x 0.5^(0.05 / 0.03) = 0.255 against 1; b's 16 Mbit/s of room
    # takes its part of the 10.5 Mbit/s stream.
    expected = 0.95**4 * 0.5 ** (0.05 / 0.03)
    assert later_fractions(scheduler, links)["a"] == pytest.approx(
        expected / (1 + expected), abs=0.01)
    plain = settled(dwrr(steering_half_loss=None), links)
    assert later_fractions(plain, links)["a"] == pytest.approx(0.95**4 / (1 + 0.95**4), abs=0.01)


def test_clean_links_are_shared_by_capacity_as_before(
    dwrr: Callable[..., Scheduler],
) -> None:
    links = [measured("a", 30 * MBIT), measured("b", 10 * MBIT)]  # both below 4 x stream
    assert later_fractions(settled(dwrr(), links), links)["a"] == pytest.approx(0.75, abs=0.01)
    capped = dwrr(capacity_cap_ratio=2.0)  # a's 30 Mbit/s count as about 21
    assert later_fractions(settled(capped, links), links)["a"] == pytest.approx(
        2 * STREAM_BPS / (2 * STREAM_BPS + 10 * MBIT), abs=0.01)


def test_links_that_could_each_carry_the_stream_many_times_share_it_evenly(
    dwrr: Callable[..., Scheduler],
) -> None:
    """Packet pairs on a fast path read anything up to hundreds of Mbit/s; counted in
    full, the link measured highest would take nearly all the stream."""
    links = [measured("a", 800 * MBIT), measured("b", 60 * MBIT)]  # both above 4 x stream
    assert later_fractions(settled(dwrr(), links), links)["a"] == pytest.approx(0.5, abs=0.01)
    uncapped = dwrr(capacity_cap_ratio=None)
    assert later_fractions(settled(uncapped, links), links)["a"] == pytest.approx(
        800 / 860, abs=0.01)


def test_a_clean_link_is_filled_only_to_its_headroom(
    dwrr: Callable[..., Scheduler],
) -> None:
    links = [measured("big", 15 * MBIT, loss=0.05), measured("small", 5 * MBIT)]
    scheduler = settled(dwrr(), links)
    shares = scheduler.shares(links, (WINDOW + 1) * PACKET_INTERVAL_NS)
    # The preference alone would give small 80 %; its room is 0.8 x 5 Mbit/s.
    assert shares["small"] == pytest.approx(0.8 * 5 * MBIT / STREAM_BPS, rel=0.02)
    assert later_fractions(scheduler, links)["small"] == pytest.approx(shares["small"], abs=0.01)


def test_a_stream_beyond_every_links_headroom_fills_clean_links_to_their_estimates(
    dwrr: Callable[..., Scheduler],
) -> None:
    """Beyond the headroom a lossy link (or a dead one that still reports) is not handed
    its plain share at once: the clean links take up to their whole estimates first."""
    links = [measured("a", 4 * MBIT, loss=0.05), measured("b", 8 * MBIT)]  # 9.6 < 10.5
    scheduler = settled(dwrr(), links)
    # b's preferred part is beyond 8 Mbit/s, so it gets 8 and a the rest: 24 % where
    # the plain weights would give a 29 %.
    steered = (STREAM_BPS - 8 * MBIT) / STREAM_BPS
    assert later_fractions(scheduler, links)["a"] == pytest.approx(steered, abs=0.01)
    plain = 4 * 0.95**4 / (4 * 0.95**4 + 8)
    assert steered < plain - 0.04


def test_a_stream_beyond_every_links_estimate_is_shared_by_plain_weights(
    dwrr: Callable[..., Scheduler],
) -> None:
    links = [measured("a", 5 * MBIT, loss=0.05), measured("b", 5 * MBIT)]  # 10 < 10.5
    scheduler = settled(dwrr(), links)
    assert later_fractions(scheduler, links)["a"] == pytest.approx(
        0.95**4 / (1 + 0.95**4), abs=0.01)


def test_a_lower_bound_may_be_exceeded_only_a_step_at_a_time(
    dwrr: Callable[..., Scheduler],
) -> None:
    """A capacity that is only what the link carried is no measure of its room: steering
    gives it at most a quarter more, and more as its estimate grows."""
    lossy = measured("a", 20 * MBIT, loss=0.10)  # preference 0.065: b would get 75 %
    unproven = make_link("b", capacity_bps=4 * MBIT)  # a lower bound
    scheduler = settled(dwrr(), [lossy, unproven])
    shares = scheduler.shares([lossy, unproven], (WINDOW + 1) * PACKET_INTERVAL_NS)
    assert shares["b"] == pytest.approx(1.25 * 4 * MBIT / STREAM_BPS, rel=0.02)
    grown = make_link("b", capacity_bps=6 * MBIT)
    scheduler.on_metrics(grown, (WINDOW + 2) * PACKET_INTERVAL_NS)
    shares = scheduler.shares([lossy, grown], (WINDOW + 2) * PACKET_INTERVAL_NS)
    assert shares["b"] == pytest.approx(1.25 * 6 * MBIT / STREAM_BPS, rel=0.02)


def test_the_stream_rate_follows_the_stream(dwrr: Callable[..., Scheduler]) -> None:
    """Half the packets (smaller ones) halve the rate steering shares out, and with it
    the headroom a small clean link runs into."""
    links = [measured("big", 15 * MBIT, loss=0.05), measured("small", 5 * MBIT)]
    scheduler = settled(dwrr(), links)
    start = (WINDOW + 1) * PACKET_INTERVAL_NS
    run_stream(scheduler, links, 2 * WINDOW, sizes=[TS_PAYLOAD_BYTES // 2] * (2 * WINDOW),
               start_ns=start)
    shares = scheduler.shares(links, start + 2 * WINDOW * PACKET_INTERVAL_NS)
    counted = min(15 * MBIT, 4 * STREAM_BPS / 2) / MBIT  # big's capacity, as far as it counts
    preference = counted * 0.95**4 * 0.5 ** (0.05 / 0.03)
    assert shares["small"] == pytest.approx(5 / (5 + preference), rel=0.05)  # uncapped now


def test_steering_is_on_by_default_and_can_be_turned_off(
        make_scheduler: Callable[..., Scheduler]) -> None:
    links = [measured("a", 20 * MBIT, loss=0.05), measured("b", 20 * MBIT)]
    steered = 0.95**4 * 0.5 ** (0.05 / 0.014)  # b's room (0.55 x 20 Mbit/s) holds it all
    scheduler = settled(make_scheduler("dwrr"), links)
    assert later_fractions(scheduler, links)["a"] == pytest.approx(
        steered / (1 + steered), abs=0.01)
    plain = 0.95**4 / (1 + 0.95**4)
    # ``false``: what a TOML [scheduler.options] table can say (it has no null).
    scheduler = settled(make_scheduler("dwrr", steering_half_loss=False), links)
    assert later_fractions(scheduler, links)["a"] == pytest.approx(plain, abs=0.01)


def test_false_turns_off_each_rule_that_is_on_by_default() -> None:
    options = DwrrOptions.model_validate(
        {"steering_half_loss": False, "queue_half_ms": False, "capacity_cap_ratio": False})
    assert options.steering_half_loss is None
    assert options.queue_half_ms is None
    assert options.capacity_cap_ratio is None


@pytest.mark.parametrize("steering", [None, 0.014])
def test_steering_moves_traffic_off_a_link_that_starts_losing(steering: float | None) -> None:
    """The real engines over the ``loss-shift`` links: without steering the (1 - loss)^4
    factor never halves link a's share; with it (the default) a's share halves within
    seconds."""
    scenario = load_scenario("loss-shift")
    metrics = compute_metrics(run_scenario(
        scenario, "dwrr", seed=2, duration_s=scenario.min_duration_s,
        scheduler_options={"steering_half_loss": steering}))
    assert metrics["residual_loss"] == 0.0
    if steering is None:
        assert metrics["shift_time_s"] is None
    else:
        assert metrics["shift_time_s"] is not None
        assert metrics["shift_time_s"] <= 2.0


@pytest.mark.parametrize("options", [
    {"steering_half_loss": 0.0}, {"headroom": 1.5}, {"lower_bound_growth": 0.5},
])
def test_bad_steering_options_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        DwrrOptions.model_validate(options)
