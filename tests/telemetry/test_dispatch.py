"""The dispatcher never stalls or breaks its caller, whatever the exporters do."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from ristbond_core.config.models import TelemetrySection
from ristbond_core.errors import ConfigError
from ristbond_core.plugins import PluginHost
from ristbond_core.telemetry.dispatch import TelemetryDispatcher, build_dispatcher

# Generous: the machine is shared; the point is "not the sleeping exporter's 2 s".
DISPATCH_BOUND_S = 0.5
WAIT_S = 10.0


class Recording:
    """Keeps every snapshot; can be made to wait on an event before each one."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.seen: list[Mapping[str, Any]] = []
        self.closed = False
        self.gate = gate
        self.done = threading.Event()

    def export(self, snapshot: Mapping[str, Any]) -> None:
        if self.gate is not None:
            self.gate.wait(WAIT_S)
        self.seen.append(snapshot)
        self.done.set()

    def close(self) -> None:
        self.closed = True


class Raising:
    """Fails on every snapshot."""

    def __init__(self) -> None:
        self.calls = 0
        self.closed = False

    def export(self, snapshot: Mapping[str, Any]) -> None:
        self.calls += 1
        raise RuntimeError("collector unreachable at rist://x?token=s3cret")

    def close(self) -> None:
        self.closed = True


class Sleeping:
    """Takes far longer than the snapshot interval."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.stop = threading.Event()

    def export(self, snapshot: Mapping[str, Any]) -> None:
        self.stop.wait(self.seconds)

    def close(self) -> None:
        return None


def wait_until(predicate: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_a_raising_and_a_sleeping_exporter_delay_neither_the_caller_nor_the_healthy_one(
    sim_run: Any,
) -> None:
    healthy, raising, sleeping = Recording(), Raising(), Sleeping(2.0)
    dispatcher = TelemetryDispatcher(
        {"healthy": healthy, "raising": raising, "sleeping": sleeping},
        queue_size=64, max_failures=3,
    )
    snapshots = sim_run.snapshots[:40]
    try:
        for snapshot in snapshots:
            started = time.monotonic()
            dispatcher.dispatch(snapshot)
            assert time.monotonic() - started < DISPATCH_BOUND_S
        assert wait_until(lambda: len(healthy.seen) == len(snapshots))
        assert healthy.seen == snapshots
    finally:
        sleeping.stop.set()
        dispatcher.close(timeout_s=5.0)


def test_a_raising_exporter_is_logged_once_and_detached_after_n_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    raising = Raising()
    dispatcher = TelemetryDispatcher({"bad": raising}, max_failures=3)
    with caplog.at_level(logging.WARNING, logger="ristbond_core.telemetry.dispatch"):
        for seq in range(1, 4):
            dispatcher.dispatch({"seq": seq})
        assert wait_until(lambda: dispatcher.attached == [])
        for seq in range(4, 10):
            dispatcher.dispatch({"seq": seq})
        dispatcher.close(timeout_s=5.0)
    assert raising.calls == 3
    assert raising.closed
    status = dispatcher.status()[0]
    assert (status.failed, status.detached, status.delivered) == (3, True, 0)
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 1
    assert "s3cret" not in caplog.text
    assert any("detached" in r.getMessage() for r in caplog.records)


def test_a_stuck_exporter_whose_queue_is_full_is_detached() -> None:
    gate = threading.Event()
    stuck = Recording(gate)
    dispatcher = TelemetryDispatcher({"stuck": stuck}, queue_size=2, max_failures=4,
                                     stall_timeout_s=0.2)
    try:
        for seq in range(3):  # one in progress (waiting on the gate), two queued
            dispatcher.dispatch({"seq": seq})
        time.sleep(0.5)
        for seq in range(3, 10):
            started = time.monotonic()
            dispatcher.dispatch({"seq": seq})
            assert time.monotonic() - started < DISPATCH_BOUND_S
        status = dispatcher.status()[0]
        assert status.detached
        assert status.failed == 4
        assert status.dropped >= 4
    finally:
        gate.set()
        dispatcher.close(timeout_s=5.0)


def test_a_burst_drops_the_oldest_snapshots_but_keeps_the_exporter() -> None:
    healthy = Recording()
    dispatcher = TelemetryDispatcher({"healthy": healthy}, queue_size=4, max_failures=2)
    for seq in range(200):
        dispatcher.dispatch({"seq": seq})
    dispatcher.close(timeout_s=5.0)
    status = dispatcher.status()[0]
    assert not status.detached
    assert status.failed == 0
    assert healthy.seen[-1] == {"seq": 199}  # the newest always gets through
    assert status.delivered + status.dropped == 200


def test_success_resets_the_failure_count() -> None:
    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        def export(self, snapshot: Mapping[str, Any]) -> None:
            self.calls += 1
            if self.calls % 2:
                raise ValueError("every other one")

        def close(self) -> None:
            return None

    flaky = Flaky()
    dispatcher = TelemetryDispatcher({"flaky": flaky}, max_failures=2)
    for seq in range(10):
        dispatcher.dispatch({"seq": seq})
    dispatcher.close(timeout_s=5.0)
    status = dispatcher.status()[0]
    assert (status.failed, status.delivered, status.detached) == (5, 5, False)


def test_close_flushes_queued_snapshots_and_closes_exporters() -> None:
    healthy = Recording()
    dispatcher = TelemetryDispatcher({"healthy": healthy}, queue_size=32)
    for seq in range(20):
        dispatcher.dispatch({"seq": seq})
    assert dispatcher.close(timeout_s=5.0) == []
    assert [s["seq"] for s in healthy.seen] == list(range(20))
    assert healthy.closed
    dispatcher.dispatch({"seq": 99})  # after close: ignored, not an error
    assert len(healthy.seen) == 20


def test_close_gives_up_on_a_hung_exporter_within_its_timeout() -> None:
    hung = Sleeping(30.0)
    dispatcher = TelemetryDispatcher({"hung": hung})
    dispatcher.dispatch({"seq": 1})
    time.sleep(0.05)
    started = time.monotonic()
    try:
        assert dispatcher.close(timeout_s=0.3) == ["hung"]
        assert time.monotonic() - started < 5.0
    finally:
        hung.stop.set()


def test_build_dispatcher_creates_configured_exporters(tmp_path: Any) -> None:
    host = PluginHost.discover({"RISTBOND_PLUGINS": "core"})
    out = tmp_path / "stats.jsonl"
    section = TelemetrySection(exporters=["jsonl"], options={"jsonl": {"path": str(out)}})
    dispatcher = build_dispatcher(host, section)
    assert dispatcher.exporter("jsonl") is not None
    assert dispatcher.exporter("otel") is None
    dispatcher.dispatch({"seq": 1, "role": "sender"})
    dispatcher.close(timeout_s=5.0)
    assert out.read_text().strip() == '{"seq":1,"role":"sender"}'


def test_build_dispatcher_reports_bad_options_by_key() -> None:
    host = PluginHost.discover({"RISTBOND_PLUGINS": "core"})
    section = TelemetrySection(exporters=["json-udp"], options={"json-udp": {"port": 1}})
    with pytest.raises(ConfigError, match=r"telemetry\.options\.json-udp"):
        build_dispatcher(host, section)
