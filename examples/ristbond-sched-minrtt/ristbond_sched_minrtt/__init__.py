"""The ``minrtt`` plugin: registers one scheduler with ristbond."""

from __future__ import annotations

from ristbond_core import hookimpl
from ristbond_core.registry import SchedulerRegistry
from ristbond_sched_minrtt.scheduler import MinRttOptions, MinRttScheduler

__all__ = ["MinRttOptions", "MinRttScheduler"]


@hookimpl
def ristbond_register_schedulers(registry: SchedulerRegistry) -> None:
    """Make ``minrtt`` selectable as ``[scheduler] name = "minrtt"``."""
    registry.add(
        "minrtt",
        MinRttScheduler,
        options=MinRttOptions,
        description="lowest smoothed RTT first, within a capacity-proportional byte budget",
    )
