"""The plugin module named by the ``weighted`` entry point: registers both schedulers."""

from __future__ import annotations

from ristbond_core import hookimpl
from ristbond_core.registry import SchedulerRegistry
from ristbond_sched_weighted.broadcast import BroadcastScheduler
from ristbond_sched_weighted.swrr import WeightedOptions, WeightedScheduler


@hookimpl
def ristbond_register_schedulers(registry: SchedulerRegistry) -> None:
    """Make ``weighted`` and ``broadcast`` selectable as ``[scheduler] name``."""
    registry.add(
        "weighted",
        WeightedScheduler,
        options=WeightedOptions,
        description="smooth weighted round robin over static, run-time adjustable weights",
    )
    registry.add(
        "broadcast",
        BroadcastScheduler,
        description="every packet on every usable link (SMPTE 2022-7 style redundancy)",
    )
