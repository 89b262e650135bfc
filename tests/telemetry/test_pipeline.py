"""A node's telemetry end to end: snapshots → dispatcher → json-udp, otel, health probes."""

from __future__ import annotations

import socket
import time
import urllib.request
from typing import Any

from ristbond_telemetry_otel.exporter import OtelExporter
from ristbond_telemetry_otel.options import OtelOptions

from ristbond_core.telemetry.dispatch import TelemetryDispatcher
from ristbond_core.telemetry.health import HealthServer
from ristbond_core.telemetry.json_udp import JsonUdpExporter, JsonUdpOptions, SnapshotAssembler

WAIT_S = 15.0


def test_one_dispatcher_feeds_every_consumer(sim_run: Any) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(0.2)
    otel = OtelExporter(OtelOptions(prometheus_port=0))
    health = HealthServer(port=0, metrics=otel.render_prometheus).start()
    dispatcher = TelemetryDispatcher({
        "json-udp": JsonUdpExporter(
            JsonUdpOptions(address=f"127.0.0.1:{listener.getsockname()[1]}")),
        "otel": otel,
        "health": health,
    }, queue_size=len(sim_run.snapshots))
    received: list[dict[str, Any]] = []
    assembler = SnapshotAssembler()
    try:
        for snapshot in sim_run.snapshots:
            dispatcher.dispatch(snapshot)
        deadline = time.monotonic() + WAIT_S
        while len(received) < len(sim_run.snapshots) and time.monotonic() < deadline:
            try:
                whole = assembler.feed(listener.recv(65_535))
            except TimeoutError:
                continue
            if whole is not None:
                received.append(whole)
        with urllib.request.urlopen(health.url + "/readyz", timeout=10) as response:
            assert response.status == 200
        with urllib.request.urlopen(health.url + "/metrics", timeout=10) as response:
            metrics = response.read().decode()
    finally:
        assert dispatcher.close(timeout_s=10.0) == []
        listener.close()
    assert received == sim_run.snapshots
    assert 'ristbond_link_rtt_milliseconds{' in metrics
    assert all(not s.detached and s.failed == 0 for s in dispatcher.status())
