"""Our scheduler plugins register through the same path as any third-party plugin."""

from __future__ import annotations

import random

import pytest
from ristbond_sched_dwrr import DwrrScheduler
from ristbond_sched_weighted import BroadcastScheduler, WeightedScheduler

from ristbond_core.errors import ConfigError
from ristbond_core.plugins import PluginHost


def test_plugins_register_dwrr_weighted_and_broadcast(host: PluginHost) -> None:
    assert host.schedulers.names() == ["broadcast", "dwrr", "weighted"]
    assert not host.load_errors
    for backend in host.schedulers:
        assert backend.description


def test_installed_plugins_are_discovered_through_entry_points() -> None:
    host = PluginHost.discover(environ={"RISTBOND_PLUGINS": "dwrr,weighted"})
    assert {"broadcast", "dwrr", "weighted"} <= set(host.schedulers.names())
    dwrr = host.schedulers.get("dwrr")
    assert dwrr is not None
    assert dwrr.origin.distribution == "ristbond-sched-dwrr"
    weighted = host.schedulers.get("broadcast")
    assert weighted is not None
    assert weighted.origin.plugin == "weighted"


@pytest.mark.parametrize(
    ("name", "kind"),
    [("dwrr", DwrrScheduler), ("weighted", WeightedScheduler), ("broadcast", BroadcastScheduler)],
)
def test_created_by_name(host: PluginHost, name: str, kind: type) -> None:
    assert isinstance(host.create_scheduler(name, {}, random.Random(0)), kind)


@pytest.mark.parametrize(
    ("name", "options", "key"),
    [
        ("dwrr", {"quantum": 1500}, "quantum"),
        ("dwrr", {"quantum_bytes": 10}, "quantum_bytes"),
        ("dwrr", {"phase_factors": {"warm": 2.0}}, "warm"),
        ("dwrr", {"phase_factors": {"hot": 1.0}}, "hot"),
        ("weighted", {"weights": {"a": -1}}, "weights"),
        ("weighted", {"weight": {"a": 1}}, "weight"),
        ("broadcast", {"copies": 2}, "copies"),
    ],
)
def test_bad_options_are_config_errors_naming_the_key(
    host: PluginHost, name: str, options: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        host.create_scheduler(name, options, random.Random(0))
    assert key in str(caught.value)
    assert "scheduler.options" in str(caught.value)
