"""Deficit weighted round robin scheduler for ristbond (``dwrr``)."""

from ristbond_sched_dwrr.options import DwrrOptions, PhaseFactors
from ristbond_sched_dwrr.scheduler import DwrrScheduler
from ristbond_sched_dwrr.weights import LinkWeigher

__all__ = ["DwrrOptions", "DwrrScheduler", "LinkWeigher", "PhaseFactors"]
