"""``dwrr``: byte-deficit round robin weighted by capacity, loss, phase and penalties."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from ristbond_core.contracts import LinkState, LinkView, Scheduler
from ristbond_core.testing.conformance import (
    PACKET_INTERVAL_NS,
    byte_fractions,
    make_link,
    run_stream,
)

MBIT = 1_000_000.0
HALF_LIFE_MS = 2_000.0


@pytest.fixture
def dwrr(make_scheduler: Callable[..., Scheduler]) -> Callable[..., Scheduler]:
    def build(**options: Any) -> Scheduler:
        return make_scheduler("dwrr", **options)

    return build


@pytest.fixture
def five_and_one() -> list[LinkView]:
    return [make_link("big", capacity_bps=5 * MBIT), make_link("small", capacity_bps=1 * MBIT)]


def announced(scheduler: Scheduler, links: list[LinkView]) -> Scheduler:
    for link in links:
        scheduler.on_link_added(link.link_id, 0)
        scheduler.on_metrics(link, 0)
    return scheduler


def with_metrics(link: LinkView, **changes: Any) -> LinkView:
    return replace(link, metrics=replace(link.metrics, **changes))


def test_equal_packets_split_bytes_5_to_1(
    dwrr: Callable[..., Scheduler], five_and_one: list[LinkView]
) -> None:
    result = run_stream(announced(dwrr(), five_and_one), five_and_one, 12_000)
    ratio = result.bytes_by_link["big"] / result.bytes_by_link["small"]
    assert ratio == pytest.approx(5.0, rel=0.10)


@pytest.mark.parametrize("quantum_bytes", [188, 1500, 9000])
def test_varied_packet_sizes_split_bytes_5_to_1(
    dwrr: Callable[..., Scheduler], five_and_one: list[LinkView], quantum_bytes: int
) -> None:
    sizes = [188 * (1 + (i * 3) % 7) for i in range(12_000)]
    scheduler = announced(dwrr(quantum_bytes=quantum_bytes), five_and_one)
    result = run_stream(scheduler, five_and_one, len(sizes), sizes=sizes)
    ratio = result.bytes_by_link["big"] / result.bytes_by_link["small"]
    assert ratio == pytest.approx(5.0, rel=0.10)


def test_loss_on_the_big_link_cuts_its_share_at_once_by_the_loss_factor(
    dwrr: Callable[..., Scheduler], five_and_one: list[LinkView]
) -> None:
    scheduler = announced(dwrr(), five_and_one)
    run_stream(scheduler, five_and_one, 1_000)
    before = scheduler.shares(five_and_one, 0)

    lossy = with_metrics(five_and_one[0], loss=0.05)
    scheduler.on_metrics(lossy, 1_000 * PACKET_INTERVAL_NS)
    links = [lossy, five_and_one[1]]
    after = scheduler.shares(links, 1_000 * PACKET_INTERVAL_NS)

    # Shares sum to one, so the big link's fraction cannot fall by the full factor;
    # its share relative to the other link falls by at least (1 - 0.05)^4.
    relative_before = before["big"] / before["small"]
    relative_after = after["big"] / after["small"]
    assert relative_after <= relative_before * 0.95**4 + 1e-9
    assert after["big"] < before["big"]
    result = run_stream(scheduler, links, 6_000, start_ns=1_001 * PACKET_INTERVAL_NS)
    assert byte_fractions(result.bytes_by_link)["big"] == pytest.approx(after["big"], abs=0.01)


def test_a_queue_beyond_the_free_allowance_halves_the_weight_per_half_ms(
    dwrr: Callable[..., Scheduler]
) -> None:
    calm = make_link("calm", capacity_bps=5 * MBIT, rtt_ms=40.0)
    # Smoothed RTT 80 ms (the free allowance) + 150 ms (one half) above the minimum.
    queued = with_metrics(make_link("queued", capacity_bps=5 * MBIT, rtt_ms=40.0),
                          rtt_ms=40.0 + 80.0 + 150.0)
    links = [calm, queued]
    # The plain weights (steering would fill calm up to its room before queued gets any).
    scheduler = announced(dwrr(steering_half_loss=None), links)
    shares = scheduler.shares(links, 0)
    assert shares["queued"] / shares["calm"] == pytest.approx(0.5)
    result = run_stream(scheduler, links, 6_000)
    assert byte_fractions(result.bytes_by_link)["queued"] == pytest.approx(1 / 3, abs=0.01)

    within = [calm, with_metrics(queued, rtt_ms=40.0 + 80.0)]
    assert announced(dwrr(), within).shares(within, 0)["queued"] == pytest.approx(0.5)
    unset = announced(dwrr(queue_half_ms=None), links)
    assert unset.shares(links, 0)["queued"] == pytest.approx(0.5)


def test_sudden_capacity_drop_is_penalised_then_recovers_gradually(
    dwrr: Callable[..., Scheduler], five_and_one: list[LinkView]
) -> None:
    scheduler = announced(dwrr(penalty_half_life_ms=HALF_LIFE_MS, drop_penalty=0.5), five_and_one)
    dropped = with_metrics(five_and_one[0], capacity_bps=2 * MBIT)
    scheduler.on_metrics(dropped, 0)
    links = [dropped, five_and_one[1]]
    unpenalised = 2 / 3  # 2 Mbit/s against 1 Mbit/s

    half_life_ns = int(HALF_LIFE_MS * 1e6)
    over_time = [scheduler.shares(links, k * half_life_ns)["big"] for k in range(8)]
    assert over_time[0] == pytest.approx(0.5)  # 2 x 0.5 against 1
    assert over_time[1] == pytest.approx(1.5 / 2.5)  # half the penalty left: 2 x 0.75
    assert all(a < b for a, b in itertools.pairwise(over_time))
    assert over_time[-1] == pytest.approx(unpenalised, abs=0.01)
    assert scheduler.shares(links, 20 * half_life_ns)["big"] == pytest.approx(unpenalised)


def test_selection_follows_the_recovering_penalty(
    dwrr: Callable[..., Scheduler], five_and_one: list[LinkView]
) -> None:
    # The late run follows a pause of 20 half-lives, which the stream's rate reads as
    # near silence; with capacity counted only up to twice that rate both links would
    # weigh the same. Counted in full, the weights show the penalty alone.
    scheduler = announced(dwrr(penalty_half_life_ms=HALF_LIFE_MS, capacity_cap_ratio=None),
                          five_and_one)
    dropped = with_metrics(five_and_one[0], capacity_bps=2 * MBIT)
    scheduler.on_metrics(dropped, 0)
    links = [dropped, five_and_one[1]]
    early = run_stream(scheduler, links, 500)
    late = run_stream(scheduler, links, 500, start_ns=int(20 * HALF_LIFE_MS * 1e6))
    assert byte_fractions(early.bytes_by_link)["big"] < 0.56
    assert byte_fractions(late.bytes_by_link)["big"] == pytest.approx(2 / 3, abs=0.02)


def test_gradual_capacity_decline_is_not_penalised(
    dwrr: Callable[..., Scheduler], five_and_one: list[LinkView]
) -> None:
    scheduler = announced(dwrr(), five_and_one)
    capacity = 5 * MBIT
    big = five_and_one[0]
    for step in range(1, 10):
        capacity *= 0.9
        big = with_metrics(big, capacity_bps=capacity)
        scheduler.on_metrics(big, step * 100 * PACKET_INTERVAL_NS)
    shares = scheduler.shares([big, five_and_one[1]], 1_000 * PACKET_INTERVAL_NS)
    assert shares["big"] == pytest.approx(capacity / (capacity + MBIT))


def test_unusable_link_is_dropped_from_the_very_next_packet(
    dwrr: Callable[..., Scheduler], five_and_one: list[LinkView]
) -> None:
    scheduler = announced(dwrr(), five_and_one)
    run_stream(scheduler, five_and_one, 7)
    down = replace(five_and_one[0], usable=False, state=LinkState.COOLDOWN)
    scheduler.on_metrics(down, 7 * PACKET_INTERVAL_NS)
    links = [down, five_and_one[1]]
    result = run_stream(scheduler, links, 100, start_ns=7 * PACKET_INTERVAL_NS)
    assert result.chosen_ids() == {"small"}


def test_without_any_capacity_estimate_the_configured_weights_decide(
    dwrr: Callable[..., Scheduler],
) -> None:
    links = [
        make_link("a", capacity_bps=None, weight=3.0),
        make_link("b", capacity_bps=None, weight=1.0),
    ]
    scheduler = announced(dwrr(), links)
    assert scheduler.shares(links, 0) == pytest.approx({"a": 0.75, "b": 0.25})
    result = run_stream(scheduler, links, 4_000)
    assert byte_fractions(result.bytes_by_link)["a"] == pytest.approx(0.75, abs=0.01)


def test_link_without_estimate_is_weighed_against_the_mean_estimate(
    dwrr: Callable[..., Scheduler],
) -> None:
    links = [
        make_link("a", capacity_bps=3 * MBIT),
        make_link("b", capacity_bps=1 * MBIT),
        make_link("new", capacity_bps=None, weight=0.5),
    ]
    shares = announced(dwrr(), links).shares(links, 0)
    assert shares["new"] == pytest.approx(1 / 5)  # 0.5 x mean(3, 1) = 1 of 5 Mbit/s


def test_capacity_floor_keeps_a_starved_link_measurable(
    dwrr: Callable[..., Scheduler],
) -> None:
    links = [make_link("a", capacity_bps=900_000.0), make_link("b", capacity_bps=0.0)]
    shares = announced(dwrr(capacity_floor_bps=100_000.0), links).shares(links, 0)
    assert shares["b"] == pytest.approx(0.1)


def test_admission_ramp_and_phase_factor_scale_the_weight(
    dwrr: Callable[..., Scheduler],
) -> None:
    links = [
        make_link("live", capacity_bps=4 * MBIT),
        make_link("warm", capacity_bps=4 * MBIT, state=LinkState.WARM, admission=0.5),
        make_link("degraded", capacity_bps=4 * MBIT, state=LinkState.DEGRADE),
    ]
    scheduler = announced(dwrr(phase_factors={"degrade": 0.25}), links)
    shares = scheduler.shares(links, 0)
    assert shares == pytest.approx({"live": 1 / 1.75, "warm": 0.5 / 1.75, "degraded": 0.25 / 1.75})


def test_runs_on_one_link_are_bounded_by_the_quantum(
    dwrr: Callable[..., Scheduler],
) -> None:
    links = [make_link("a", capacity_bps=MBIT), make_link("b", capacity_bps=MBIT)]
    scheduler = announced(dwrr(quantum_bytes=1500), links)
    sequence = "".join(ids[0] for ids in run_stream(scheduler, links, 200).selections)
    assert "aaa" not in sequence
    assert "bbb" not in sequence


def test_a_returning_link_ramps_from_what_it_carried_when_live(
    dwrr: Callable[..., Scheduler], five_and_one: list[LinkView]
) -> None:
    """Back from an outage, a warming link's own estimate only reflects the trickle its
    admission allowed; weighing it at face value kept it starved. Its capacity when it
    was last live stands in, scaled by the admission ramp, and no drop penalty starts."""
    scheduler = announced(dwrr(), five_and_one)
    big, small = five_and_one
    assert scheduler.shares(five_and_one, 0)["small"] == pytest.approx(1 / 6)
    trickle = replace(small, state=LinkState.WARM, admission=0.5,
                      metrics=replace(small.metrics, capacity_bps=0.1 * MBIT))
    scheduler.on_metrics(trickle, 1)
    shares = scheduler.shares([big, trickle], 1)
    assert shares["small"] == pytest.approx(0.5 / 5.5)  # 1 Mbit/s x admission 0.5
    # Once the warming link is measured full, its own estimate counts again.
    full = with_metrics(trickle, capacity_measured=True)
    scheduler.on_metrics(full, 2)
    assert scheduler.shares([big, full], 2)["small"] == pytest.approx(0.05 / 5.05)


def test_a_new_warming_link_is_taken_at_its_estimate(
    dwrr: Callable[..., Scheduler], five_and_one: list[LinkView]
) -> None:
    big, _ = five_and_one
    new = make_link("new", capacity_bps=0.5 * MBIT)
    new = replace(new, state=LinkState.WARM, admission=0.5)
    scheduler = announced(dwrr(), [big, new])
    assert scheduler.shares([big, new], 0)["new"] == pytest.approx(0.25 / 5.25)
