"""The ``otel`` exporter over real sockets: a Prometheus scrape, OTLP/HTTP, a real Prometheus."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from ristbond_telemetry_otel.exporter import OtelExporter
from ristbond_telemetry_otel.options import OtelOptions

from ristbond_core.errors import RistbondError
from tests.conftest import require_program
from tests.telemetry.otel_support import harness

WAIT_S = 30.0


def scrape(address: tuple[str, int]) -> str:
    with urllib.request.urlopen(f"http://{address[0]}:{address[1]}/metrics", timeout=10) as r:
        return str(r.read().decode())


def series(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name + "{")]


def test_the_prometheus_endpoint_serves_per_link_series(
    sender_snapshot: dict[str, Any], receiver_snapshot: dict[str, Any]
) -> None:
    with harness() as h:
        h.exporter.export(sender_snapshot)
        h.exporter.export(receiver_snapshot)
        address = h.exporter.prometheus_address
        assert address is not None
        assert address[0] == "127.0.0.1"
        text = scrape(address)
    rtt = series(text, "ristbond_link_rtt_milliseconds")
    for link in sender_snapshot["links"]:
        assert any(f'link_id="{link["id"]}"' in line and 'role="sender"' in line
                   for line in rtt), rtt
    assert series(text, "ristbond_link_packets_sent_total")
    assert series(text, "ristbond_link_capacity_bit_per_second")
    assert any('loss_kind="residual"' in line
               for line in series(text, "ristbond_flow_packets_lost_total"))
    assert "# TYPE ristbond_link_sent_bytes_total counter" in text
    assert 'service_name="ristbond"' in text  # the resource, as target_info


def test_a_busy_prometheus_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RistbondError, match="prometheus_port"):
            OtelExporter(OtelOptions(prometheus_port=port))


class Collector:
    """A minimal OTLP/HTTP receiver: keeps every decoded request by path."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                with outer.lock:
                    outer.requests.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def metric_points(self) -> dict[str, list[dict[str, str]]]:
        """Metric name → attribute sets of its points, over every metrics request."""
        found: dict[str, list[dict[str, str]]] = {}
        with self.lock:
            bodies = [body for path, body in self.requests if path == "/v1/metrics"]
        for body in bodies:
            request = ExportMetricsServiceRequest.FromString(body)
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        kind = metric.WhichOneof("data")
                        assert kind is not None
                        for point in getattr(metric, kind).data_points:
                            found.setdefault(metric.name, []).append(
                                {kv.key: kv.value.string_value for kv in point.attributes}
                            )
        return found

    def log_bodies(self) -> list[str]:
        with self.lock:
            bodies = [body for path, body in self.requests if path == "/v1/logs"]
        return [record.body.string_value
                for body in bodies
                for rl in ExportLogsServiceRequest.FromString(body).resource_logs
                for sl in rl.scope_logs for record in sl.log_records]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    try:
        yield running
    finally:
        running.close()


def test_otlp_pushes_metrics_and_lifecycle_logs(
    collector: Collector, sim_run: Any
) -> None:
    exporter = OtelExporter(OtelOptions(
        exporters=["otlp"], otlp_endpoint=collector.url, export_interval_ms=200,
        resource_attributes={"deployment.environment": "test"},
    ))
    try:
        for snapshot in sim_run.snapshots:
            exporter.export(snapshot)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and "ristbond.link.rtt" not in collector.metric_points():
            time.sleep(0.1)
    finally:
        exporter.close()  # flushes the pending log records
    points = collector.metric_points()
    link_ids = {p["link.id"] for p in points["ristbond.link.rtt"] if p["role"] == "sender"}
    assert link_ids == {"a", "b"}
    assert "ristbond.flow.packets.lost" in points
    assert any("live -> cooldown" in body for body in collector.log_bodies())


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def query(port: int, promql: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        document = json.loads(response.read())
    result: list[dict[str, Any]] = document["data"]["result"]
    return result


@pytest.mark.e2e
def test_a_real_prometheus_scrapes_the_per_link_series(
    tmp_path: Path, sender_snapshot: dict[str, Any]
) -> None:
    binary = require_program("prometheus", "prometheus")
    with harness() as h:
        h.exporter.export(sender_snapshot)
        address = h.exporter.prometheus_address
        assert address is not None
        web_port = free_tcp_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: ristbond\n    scrape_interval: 1s\n"
            f"    static_configs:\n      - targets: ['{address[0]}:{address[1]}']\n"
        )
        log = (tmp_path / "prometheus.log").open("w")
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{web_port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        found: list[dict[str, Any]] = []
        try:
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    found = query(web_port, 'ristbond_link_rtt_milliseconds{role="sender"}')
                except OSError:
                    found = []
                if len(found) == len(sender_snapshot["links"]):
                    break
                time.sleep(0.5)
        finally:
            process.kill()
            process.wait(timeout=10)
            log.close()
        assert process.returncode is not None
        diagnosis = (tmp_path / "prometheus.log").read_text()[-2000:]
        ids = {series["metric"]["link_id"] for series in found}
        assert ids == {link["id"] for link in sender_snapshot["links"]}, diagnosis
        values = {s["metric"]["link_id"]: float(s["value"][1]) for s in found}
        for link in sender_snapshot["links"]:
            assert values[link["id"]] == pytest.approx(link["rtt_ms"])
