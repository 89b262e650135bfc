"""Telemetry on a running receiver: a real Prometheus scrapes it, and failing exporters
or a vanished telemetry target never disturb delivery."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ristbond_core.runtime.testsrc import check_ts
from tests.conftest import require_program
from tests.e2e.conftest import Proc, free_even_port, wait_until_bound

FIXTURE = Path(__file__).parent.parent / "fixture_plugins" / "ristbond-fixture-telemetry"
PLUGINS = "core,udp,dwrr,otel,fixture-telemetry"


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The misbehaving exporters, pip-installed into a folder of their own."""
    target = tmp_path_factory.mktemp("telemetry-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), str(FIXTURE)],
        check=True, capture_output=True, timeout=180,
    )
    return target


class Node:
    """Starts ristbond subcommands with a given environment; kills them by PID at the end."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.env = env
        self.procs: list[Proc] = []

    def start(self, name: str, *args: str) -> Proc:
        out, err = self.tmp / f"{name}.out", self.tmp / f"{name}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            popen = subprocess.Popen([sys.executable, "-m", "ristbond_core.cli", *args],
                                     stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                                     env=self.env)
        proc = Proc(popen, out, err)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is None:
                proc.popen.kill()
                proc.popen.wait(timeout=5)


@pytest.fixture
def node(tmp_path: Path, plugin_site: Path) -> Iterator[Node]:
    env = {**os.environ, "PYTHONPATH": str(plugin_site), "RISTBOND_PLUGINS": PLUGINS}
    instance = Node(tmp_path, env)
    try:
        yield instance
    finally:
        instance.close()


def stream(node: Node, receiver_config: str, *, seconds: float = 4.0,
           during: Any = None) -> tuple[Proc, Proc, bytes]:
    """Receiver (with ``receiver_config``) ← 2-link sender; returns both and the output."""
    port = free_even_port(set())
    config = node.tmp / "receiver.toml"
    config.write_text(receiver_config)
    out = node.tmp / "out.ts"
    receiver = node.start("receiver", "receive", "--listen", f"rist://@127.0.0.1:{port}",
                          "--output", f"file://{out}", "--latency-ms", "400",
                          "--config", str(config), "--duration", "30")
    wait_until_bound(port, receiver)
    sender = node.start("sender", "send", "--input", "testsrc://?bitrate=2000",
                        "--link", f"rist://127.0.0.1:{port}", "--link",
                        f"rist://127.0.0.1:{port}", "--latency-ms", "400",
                        "--duration", str(seconds))
    if during is not None:
        during(receiver)
    assert sender.wait(seconds + 20) == 0, sender.err
    receiver.signal(signal.SIGINT)
    assert receiver.wait(15) == 0, receiver.err
    return sender, receiver, out.read_bytes()


def assert_delivered(sender: Proc, receiver: Proc, output: bytes) -> None:
    count, size, sha = sender.final()
    assert count > 100
    assert receiver.final() == (count, size, sha)
    report = check_ts(output)
    assert report.clean
    assert report.sha256 == sha


def query(port: int, expression: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode(
        {"query": expression})
    with urllib.request.urlopen(url, timeout=2) as response:
        body = json.loads(response.read())
    return list(body["data"]["result"])


def test_prometheus_scrapes_a_running_receiver(node: Node) -> None:
    binary = require_program("prometheus", "prometheus")
    metrics_port = free_tcp_port()
    web_port = free_tcp_port()
    receiver_config = (
        '[telemetry]\nexporters = ["otel"]\ninterval_ms = 200\n'
        f'[telemetry.options.otel]\nexporters = ["prometheus"]\nprometheus_port = {metrics_port}\n'
    )
    scrape = node.tmp / "prometheus.yml"
    scrape.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: ristbond\n    scrape_interval: 1s\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n"
    )
    log = (node.tmp / "prometheus.log").open("w")
    prometheus = subprocess.Popen(
        [binary, f"--config.file={scrape}", f"--storage.tsdb.path={node.tmp / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{web_port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    found: list[dict[str, Any]] = []

    def watch(receiver: Proc) -> None:
        nonlocal found
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and prometheus.poll() is None:
            try:
                found = query(web_port, 'ristbond_link_packets_received_total{role="receiver"}')
            except OSError:
                found = []
            if found and all(float(s["value"][1]) > 0 for s in found):
                return
            time.sleep(0.5)

    try:
        sender, receiver, output = stream(node, receiver_config, seconds=12.0, during=watch)
    finally:
        prometheus.kill()
        prometheus.wait(timeout=10)
        log.close()
    assert_delivered(sender, receiver, output)
    diagnosis = (node.tmp / "prometheus.log").read_text()[-2000:]
    assert found, f"no per-link series scraped; prometheus said:\n{diagnosis}"
    assert {series["metric"]["link_id"] for series in found}
    assert all(float(series["value"][1]) > 0 for series in found)


def test_failing_exporters_and_a_lost_target_do_not_disturb_delivery(node: Node) -> None:
    target = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target.bind(("127.0.0.1", 0))
    target.settimeout(5)
    address = f"127.0.0.1:{target.getsockname()[1]}"
    receiver_config = (
        '[telemetry]\nexporters = ["explode", "hang", "json-udp"]\ninterval_ms = 200\n'
        f'[telemetry.options.json-udp]\naddress = "{address}"\n'
    )
    snapshots: list[bytes] = []

    def kill_the_target(receiver: Proc) -> None:
        snapshots.append(target.recv(65536))  # the target saw live snapshots ...
        target.close()  # ... and then it is gone for the rest of the stream

    sender, receiver, output = stream(node, receiver_config, seconds=5.0, during=kill_the_target)
    assert_delivered(sender, receiver, output)
    assert json.loads(snapshots[0])["role"] == "receiver"
    # Both bad exporters were reported and detached; the stream never noticed.
    assert "telemetry exporter 'explode' detached after 5 consecutive failures" in receiver.err
    assert "telemetry exporter 'hang' detached after 5 consecutive failures" in receiver.err
