"""PluginHost: registration through hooks, isolation of failing plugins, fan-out."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from ristbond_core import builtin, hookimpl
from ristbond_core.contracts import LinkState, LinkView, PacketInfo, SchedulerSetup
from ristbond_core.errors import BackendNotFoundError, ConfigError
from ristbond_core.events import LinkStateChanged
from ristbond_core.plugins import PluginHost


class PickFirstOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offset: int = 0


class PickFirst:
    def __init__(self, setup: SchedulerSetup) -> None:
        assert isinstance(setup.options, PickFirstOptions)
        self.offset = setup.options.offset

    def select(self, packet: PacketInfo, links: Any, now_ns: int) -> list[str]:
        usable = [link.link_id for link in links if link.usable]
        return usable[self.offset % len(usable) :][:1] if usable else []

    def shares(self, links: Any, now_ns: int) -> dict[str, float]:
        return {}

    def on_metrics(self, link: LinkView, now_ns: int) -> None: ...
    def on_link_added(self, link_id: str, now_ns: int) -> None: ...
    def on_link_removed(self, link_id: str, now_ns: int) -> None: ...


def plugin_with(**hooks: Any) -> SimpleNamespace:
    return SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})


def good_plugin() -> SimpleNamespace:
    def ristbond_register_schedulers(registry: Any) -> None:
        registry.add("pick-first", PickFirst, options=PickFirstOptions, description="first")

    return plugin_with(ristbond_register_schedulers=ristbond_register_schedulers)


def test_a_registered_scheduler_is_built_with_validated_options() -> None:
    host = PluginHost.from_plugins({"good": good_plugin()})
    scheduler = host.create_scheduler("pick-first", {"offset": 1}, random.Random(1))
    links = [LinkView("a"), LinkView("b")]
    assert scheduler.select(PacketInfo(seq=0, size_bytes=1316), links, 0) == ["b"]


def test_backends_record_the_plugin_that_registered_them() -> None:
    host = PluginHost.from_plugins({"good": good_plugin(), "core": builtin})
    names = {(b.kind, b.name, b.origin.plugin) for b in host.backends()}
    assert ("scheduler", "pick-first", "good") in names
    assert ("telemetry", "jsonl", "core") in names


def test_a_plugin_that_raises_while_registering_is_isolated() -> None:
    def ristbond_register_schedulers(registry: Any) -> None:
        registry.add("half-done", PickFirst, options=PickFirstOptions)
        raise RuntimeError("boom")

    bad = plugin_with(ristbond_register_schedulers=ristbond_register_schedulers)
    host = PluginHost.from_plugins({"bad": bad, "good": good_plugin()})
    assert host.schedulers.names() == ["pick-first"]  # the half registration is undone
    [error] = host.load_errors
    assert error.plugin == "bad"
    assert "RuntimeError: boom" in str(error)
    assert "\n" not in str(error)


def test_an_options_model_that_accepts_unknown_keys_is_refused() -> None:
    class Loose(BaseModel):
        x: int = 0

    def ristbond_register_schedulers(registry: Any) -> None:
        registry.add("loose", PickFirst, options=Loose)

    host = PluginHost.from_plugins(
        {"loose": plugin_with(ristbond_register_schedulers=ristbond_register_schedulers)}
    )
    assert "extra='forbid'" in str(host.load_errors[0])
    assert host.schedulers.names() == []


def test_a_duplicate_backend_name_names_the_first_owner() -> None:
    host = PluginHost.from_plugins({"first": good_plugin(), "second": good_plugin()})
    assert host.schedulers.get("pick-first") is not None
    assert "already registered by plugin 'first'" in str(host.load_errors[0])


def test_a_misspelt_hook_is_a_load_error() -> None:
    def ristbond_register_schedulerz(registry: Any) -> None:
        return None

    host = PluginHost.from_plugins(
        {"typo": plugin_with(ristbond_register_schedulerz=ristbond_register_schedulerz)}
    )
    assert "ristbond_register_schedulerz" in str(host.load_errors[0])
    assert host.plugins == []


def test_an_unknown_backend_suggests_the_close_name_and_the_package() -> None:
    host = PluginHost.from_plugins({"good": good_plugin()})
    with pytest.raises(BackendNotFoundError) as caught:
        host.require("scheduler", "pick-frist", "scheduler.name")
    assert "did you mean 'pick-first'" in str(caught.value)
    with pytest.raises(BackendNotFoundError) as caught:
        host.require("scheduler", "dwrr", "scheduler.name")
    assert "pip install ristbond-sched-dwrr" in str(caught.value)


def test_bad_plugin_options_name_the_key() -> None:
    host = PluginHost.from_plugins({"good": good_plugin()})
    with pytest.raises(ConfigError) as caught:
        host.create_scheduler("pick-first", {"ofset": 2})
    assert caught.value.problems == [
        "scheduler.options.ofset: unknown key — did you mean 'offset'?"
    ]


def test_a_failing_observer_does_not_silence_the_others(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[LinkStateChanged] = []

    def explode(event: LinkStateChanged) -> None:
        raise ValueError("observer bug")

    def record(event: LinkStateChanged) -> None:
        seen.append(event)

    host = PluginHost.from_plugins(
        {
            "a": plugin_with(ristbond_link_state_changed=explode),
            "b": plugin_with(ristbond_link_state_changed=record),
        }
    )
    event = LinkStateChanged("lte1", LinkState.WARM, LinkState.LIVE, "warm_done", 5)
    host.notify_link_state_changed(event)
    assert seen == [event]
    assert "plugin 'a' failed" in caplog.text


def test_discovery_honours_allow_and_block_lists() -> None:
    only_core = PluginHost.discover({"RISTBOND_PLUGINS": "core"})
    assert [p.name for p in only_core.plugins] == ["core"]
    assert only_core.telemetry.names() == ["json-udp", "jsonl"]
    without_core = PluginHost.discover(
        {"RISTBOND_PLUGINS": "core", "RISTBOND_DISABLE_PLUGINS": "core"}
    )
    assert without_core.plugins == []
    assert "core" in without_core.skipped
