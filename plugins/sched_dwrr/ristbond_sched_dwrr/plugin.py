"""The plugin module named by the ``dwrr`` entry point."""

from __future__ import annotations

from ristbond_core import hookimpl
from ristbond_core.registry import SchedulerRegistry
from ristbond_sched_dwrr.options import DwrrOptions
from ristbond_sched_dwrr.scheduler import DwrrScheduler


@hookimpl
def ristbond_register_schedulers(registry: SchedulerRegistry) -> None:
    """Make ``dwrr`` selectable as ``[scheduler] name = "dwrr"``."""
    registry.add(
        "dwrr",
        DwrrScheduler,
        options=DwrrOptions,
        description=(
            "deficit weighted round robin over bytes; weight = capacity x (1-loss)^4 "
            "x lifecycle phase x drop penalty"
        ),
    )
