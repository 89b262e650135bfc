"""Fixtures for the scheduler tests: schedulers built the way the plugin host builds them."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import ristbond_sched_dwrr.plugin
import ristbond_sched_weighted.plugin

from ristbond_core.contracts import Scheduler
from ristbond_core.plugins import PluginHost


@pytest.fixture
def host() -> PluginHost:
    """A plugin host with exactly our two scheduler plugins."""
    return PluginHost.from_plugins(
        {"dwrr": ristbond_sched_dwrr.plugin, "weighted": ristbond_sched_weighted.plugin}
    )


@pytest.fixture
def make_scheduler(host: PluginHost) -> Callable[..., Scheduler]:
    """``make_scheduler("dwrr", quantum_bytes=3000)``: built through the registry."""

    def build(name: str, **options: Any) -> Scheduler:
        opts: Mapping[str, Any] = options
        return host.create_scheduler(name, opts, random.Random(1))

    return build
