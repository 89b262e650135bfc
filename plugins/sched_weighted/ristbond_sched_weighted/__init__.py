"""Static-weight schedulers for ristbond: ``weighted`` (smooth WRR) and ``broadcast``."""

from ristbond_sched_weighted.broadcast import BroadcastScheduler
from ristbond_sched_weighted.swrr import WeightedOptions, WeightedScheduler

__all__ = ["BroadcastScheduler", "WeightedOptions", "WeightedScheduler"]
