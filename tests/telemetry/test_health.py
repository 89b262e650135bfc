"""``/healthz``, ``/readyz`` and ``/metrics`` answer from the last snapshot given."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from ristbond_core.contracts import TelemetryExporter
from ristbond_core.errors import RistbondError
from ristbond_core.telemetry.health import HealthServer

MS = 1_000_000


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now_ns = 10_000 * MS

    def __call__(self) -> int:
        return self.now_ns


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> Iterator[HealthServer]:
    with HealthServer(
        port=0, stale_after_ms=5_000, receive_window_ms=3_000, clock_ns=clock,
        metrics=lambda: "# TYPE ristbond_up gauge\nristbond_up 1\n",
    ) as running:
        yield running


def get(server: HealthServer, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(server.url + path, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def with_states(snapshot: dict[str, Any], *states: str) -> dict[str, Any]:
    links = [{**snapshot["links"][0], "id": f"l{i}", "state": s} for i, s in enumerate(states)]
    return {**snapshot, "links": links}


def test_binds_to_loopback_on_an_ephemeral_port(server: HealthServer) -> None:
    host, port = server.address
    assert host == "127.0.0.1"
    assert port > 0


def test_healthz_is_503_before_any_snapshot(server: HealthServer) -> None:
    status, body = get(server, "/healthz")
    assert status == 503
    assert json.loads(body) == {"ok": False, "reason": "no snapshot yet"}


def test_healthz_is_200_while_snapshots_advance_and_503_when_they_stop(
    server: HealthServer, clock: FakeClock, sim_run: Any
) -> None:
    senders = sim_run.of("sender")
    server.update(senders[0])
    assert get(server, "/healthz")[0] == 200
    clock.now_ns += 4_000 * MS
    server.update(senders[1])
    clock.now_ns += 4_000 * MS
    assert get(server, "/healthz")[0] == 200
    clock.now_ns += 2_000 * MS
    status, body = get(server, "/healthz")
    assert status == 503
    assert "old" in json.loads(body)["reason"]


def test_a_repeated_snapshot_does_not_count_as_progress(
    server: HealthServer, clock: FakeClock, sender_snapshot: dict[str, Any]
) -> None:
    server.update(sender_snapshot)
    for _ in range(3):
        clock.now_ns += 2_500 * MS
        server.update(sender_snapshot)  # same monotonic_ns: the engine is stuck
    assert get(server, "/healthz")[0] == 503


@pytest.mark.parametrize(
    ("states", "ready"),
    [(("live", "probe"), True), (("warm", "probe"), False), (("degrade", "cooldown"), False),
     ((), False)],
)
def test_sender_readiness_needs_a_live_link(
    server: HealthServer, sender_snapshot: dict[str, Any], states: tuple[str, ...], ready: bool
) -> None:
    server.update(with_states(sender_snapshot, *states))
    status, body = get(server, "/readyz")
    assert status == (200 if ready else 503), body


def test_receiver_readiness_needs_a_recent_packet(
    server: HealthServer, receiver_snapshot: dict[str, Any]
) -> None:
    links = receiver_snapshot["links"]
    fresh = {**receiver_snapshot, "monotonic_ns": 1,
             "links": [{**links[0], "last_packet_age_ms": 20.0}]}
    stale = {**receiver_snapshot, "monotonic_ns": 2,
             "links": [{**link, "last_packet_age_ms": 9_000.0} for link in links]}
    never = {**receiver_snapshot, "monotonic_ns": 3,
             "links": [{**links[0], "last_packet_age_ms": None}]}
    server.update(fresh)
    assert get(server, "/readyz")[0] == 200
    server.update(stale)
    assert get(server, "/readyz")[0] == 503
    server.update(never)
    assert get(server, "/readyz")[0] == 503


def test_readyz_follows_the_simulated_run(server: HealthServer, sim_run: Any) -> None:
    """Early on no link is live yet; once warmed up the sender is ready."""
    senders = sim_run.of("sender")
    server.update(senders[0])
    assert get(server, "/readyz")[0] == 503
    server.update(senders[-1])
    assert get(server, "/readyz")[0] == 200


def test_readyz_is_503_when_not_healthy(
    server: HealthServer, clock: FakeClock, sender_snapshot: dict[str, Any]
) -> None:
    server.update(with_states(sender_snapshot, "live"))
    clock.now_ns += 60_000 * MS
    assert get(server, "/readyz")[0] == 503


def test_metrics_serves_the_renderer_output(server: HealthServer) -> None:
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "ristbond_up 1" in response.read().decode()


def test_metrics_is_404_without_a_renderer(clock: FakeClock) -> None:
    with HealthServer(port=0, clock_ns=clock) as bare:
        assert get(bare, "/metrics")[0] == 404


def test_a_failing_renderer_is_a_500_and_the_server_survives(clock: FakeClock) -> None:
    def broken() -> str:
        raise RuntimeError("boom")

    with HealthServer(port=0, clock_ns=clock, metrics=broken) as server:
        assert get(server, "/metrics")[0] == 500
        assert get(server, "/healthz")[0] == 503


def test_the_server_is_a_telemetry_exporter(server: HealthServer,
                                            sender_snapshot: dict[str, Any]) -> None:
    assert isinstance(server, TelemetryExporter)
    server.export(with_states(sender_snapshot, "live"))
    assert get(server, "/readyz")[0] == 200


def test_unknown_paths_are_404(server: HealthServer) -> None:
    assert get(server, "/nope")[0] == 404


def test_a_busy_port_is_a_clear_error(server: HealthServer) -> None:
    with pytest.raises(RistbondError, match=r"cannot listen on 127\.0\.0\.1"):
        HealthServer(port=server.address[1])
