"""``weighted``: smooth weighted round robin over static, run-time adjustable weights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ristbond_sched_weighted import WeightedScheduler

from ristbond_core.contracts import LinkView, Scheduler
from ristbond_core.testing.conformance import byte_fractions, make_link, run_stream


@pytest.fixture
def two_links() -> list[LinkView]:
    return [make_link("a"), make_link("b")]


def weighted(make_scheduler: Callable[..., Scheduler], **options: Any) -> WeightedScheduler:
    scheduler = make_scheduler("weighted", **options)
    assert isinstance(scheduler, WeightedScheduler)
    return scheduler


def test_weights_8_to_2_give_80_20_over_many_packets(
    make_scheduler: Callable[..., Scheduler], two_links: list[LinkView]
) -> None:
    scheduler = weighted(make_scheduler, weights={"a": 8, "b": 2})
    result = run_stream(scheduler, two_links, 10_000)
    share_a = result.packets_by_link["a"] / 10_000
    assert share_a == pytest.approx(0.80, abs=0.02)


def test_heavy_link_packets_are_interleaved_not_bunched(
    make_scheduler: Callable[..., Scheduler], two_links: list[LinkView]
) -> None:
    scheduler = weighted(make_scheduler, weights={"a": 8, "b": 2})
    result = run_stream(scheduler, two_links, 100)
    sequence = "".join(ids[0] for ids in result.selections)
    assert "b" in sequence[:5]
    assert "aaaaa" not in sequence  # smooth WRR: at most four a's between b's


def test_link_weight_is_used_when_options_do_not_name_the_link(
    make_scheduler: Callable[..., Scheduler],
) -> None:
    links = [make_link("a", weight=3.0), make_link("b", weight=1.0)]
    scheduler = weighted(make_scheduler)
    assert scheduler.shares(links, 0) == {"a": 0.75, "b": 0.25}


def test_set_weights_changes_the_split_at_run_time(
    make_scheduler: Callable[..., Scheduler], two_links: list[LinkView]
) -> None:
    scheduler = weighted(make_scheduler, weights={"a": 1, "b": 1})
    run_stream(scheduler, two_links, 100)
    scheduler.set_weights({"a": 1, "b": 3})
    assert scheduler.shares(two_links, 0) == {"a": 0.25, "b": 0.75}
    result = run_stream(scheduler, two_links, 4_000, start_ns=100_000_000)
    assert result.packets_by_link["b"] / 4_000 == pytest.approx(0.75, abs=0.01)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_set_weights_rejects_negative_or_non_finite_weights(
    make_scheduler: Callable[..., Scheduler], bad: float
) -> None:
    with pytest.raises(ValueError, match="link 'a'"):
        weighted(make_scheduler).set_weights({"a": bad})


def test_warming_link_gets_its_admission_fraction(make_scheduler: Callable[..., Scheduler]) -> None:
    links = [make_link("a"), make_link("b", admission=0.25)]
    assert weighted(make_scheduler).shares(links, 0) == {"a": 0.8, "b": 0.2}
    ignoring = weighted(make_scheduler, follow_admission=False)
    assert ignoring.shares(links, 0) == {"a": 0.5, "b": 0.5}


def test_zero_weight_link_is_unused_while_another_has_weight(
    make_scheduler: Callable[..., Scheduler], two_links: list[LinkView]
) -> None:
    scheduler = weighted(make_scheduler, weights={"a": 0, "b": 1})
    assert run_stream(scheduler, two_links, 100).chosen_ids() == {"b"}


def test_byte_split_follows_weights_with_mixed_packet_sizes(
    make_scheduler: Callable[..., Scheduler], two_links: list[LinkView]
) -> None:
    scheduler = weighted(make_scheduler, weights={"a": 8, "b": 2})
    sizes = [188 * (1 + (i * 5) % 7) for i in range(10_000)]
    result = run_stream(scheduler, two_links, len(sizes), sizes=sizes)
    assert byte_fractions(result.bytes_by_link)["a"] == pytest.approx(0.8, abs=0.02)
