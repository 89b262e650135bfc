"""Our built-in schedulers run the core's conformance kit, as any plugin would."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ristbond_sched_dwrr import DwrrOptions, DwrrScheduler
from ristbond_sched_weighted import BroadcastScheduler, WeightedOptions, WeightedScheduler

from ristbond_core.testing.conformance import SchedulerConformance


class TestDwrrConformance(SchedulerConformance):
    factory = DwrrScheduler
    options_model = DwrrOptions
    capacity_aware = True


class TestDwrrSmallQuantumConformance(SchedulerConformance):
    factory = DwrrScheduler
    options_model = DwrrOptions
    # A quantum smaller than most packets: several rounds pass before a link may send.
    options: ClassVar[Mapping[str, Any]] = {"quantum_bytes": 188}
    capacity_aware = True


class TestWeightedConformance(SchedulerConformance):
    factory = WeightedScheduler
    options_model = WeightedOptions


class TestWeightedWithConfiguredWeightsConformance(SchedulerConformance):
    factory = WeightedScheduler
    options_model = WeightedOptions
    options: ClassVar[Mapping[str, Any]] = {"weights": {"eth": 5.0, "lte-b": 0.5, "link3": 2.0}}


class TestBroadcastConformance(SchedulerConformance):
    factory = BroadcastScheduler
    redundant = True
