"""The core's pytest plugin offers link and stream fixtures to any test suite."""

from __future__ import annotations

from collections.abc import Callable

from ristbond_sched_weighted import BroadcastScheduler

from ristbond_core.contracts import LinkState, LinkView
from ristbond_core.testing.conformance import StreamResult


def test_scheduler_links_builds_views_with_the_given_metrics(
    scheduler_links: Callable[..., LinkView],
) -> None:
    link = scheduler_links("lte", capacity_bps=2e6, loss=0.05, usable=False)
    assert link.link_id == "lte"
    assert link.metrics.capacity_bps == 2e6
    assert link.metrics.loss == 0.05
    assert link.state is LinkState.COOLDOWN


def test_scheduler_stream_tallies_bytes_per_link(
    scheduler_links: Callable[..., LinkView],
    scheduler_stream: Callable[..., StreamResult],
) -> None:
    import random

    from ristbond_core.contracts import SchedulerSetup
    from ristbond_core.registry import NoOptions

    scheduler = BroadcastScheduler(SchedulerSetup(options=NoOptions(), rng=random.Random(0)))
    result = scheduler_stream(scheduler, [scheduler_links("a"), scheduler_links("b")], 10)
    assert result.bytes_by_link == {"a": 13_160, "b": 13_160}


def test_conformance_names_are_importable_from_the_testing_package() -> None:
    from ristbond_core import testing

    assert testing.SchedulerConformance.__name__ == "SchedulerConformance"
