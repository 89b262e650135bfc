"""`[telemetry] health` serves /healthz and /readyz from a running receiver and sender."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_even_udp_port() -> int:
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1]) & ~1
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free even UDP port pair")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def poll(url: str, want: int, limit_s: float = 15.0) -> tuple[int, str]:
    deadline = time.monotonic() + limit_s
    status, body = 0, ""
    while time.monotonic() < deadline:
        try:
            status, body = get(url)
        except OSError:
            status = 0
        if status == want:
            break
        time.sleep(0.2)
    return status, body


def test_health_probes_follow_a_live_stream(tmp_path: Path) -> None:
    port = free_even_udp_port()
    receiver_health = free_port()
    sender_health = free_port()
    receiver_cfg = tmp_path / "receiver.toml"
    receiver_cfg.write_text(
        f'[telemetry]\nhealth = "127.0.0.1:{receiver_health}"\ninterval_ms = 200\n'
    )
    sender_cfg = tmp_path / "sender.toml"
    sender_cfg.write_text(f'[telemetry]\nhealth = "127.0.0.1:{sender_health}"\ninterval_ms = 200\n')
    cli = [sys.executable, "-m", "ristbond_core.cli"]
    env = {**os.environ, "RISTBOND_PLUGINS": "core,udp,dwrr"}
    receiver_log = (tmp_path / "receiver.log").open("w")
    sender_log = (tmp_path / "sender.log").open("w")
    receiver = subprocess.Popen(
        [*cli, "receive", "--listen", f"rist://@127.0.0.1:{port}", "--output",
         f"file://{tmp_path / 'out.ts'}", "--latency-ms", "200", "--config", str(receiver_cfg),
         "--duration", "20"],
        env=env, stdout=subprocess.DEVNULL, stderr=receiver_log,
    )
    sender = None
    try:
        status, body = poll(f"http://127.0.0.1:{receiver_health}/readyz", 503)
        assert status == 503, body  # listening, but nothing received yet
        sender = subprocess.Popen(
            [*cli, "send", "--input", "testsrc://?bitrate=2000", "--link",
             f"rist://127.0.0.1:{port}", "--latency-ms", "200", "--config", str(sender_cfg),
             "--duration", "20"],
            env=env, stdout=subprocess.DEVNULL, stderr=sender_log,
        )
        assert poll(f"http://127.0.0.1:{receiver_health}/healthz", 200)[0] == 200
        assert poll(f"http://127.0.0.1:{receiver_health}/readyz", 200)[0] == 200
        assert poll(f"http://127.0.0.1:{sender_health}/healthz", 200)[0] == 200
        status, body = poll(f"http://127.0.0.1:{sender_health}/readyz", 200, limit_s=20)
        assert status == 200, body  # a link went live
    finally:
        for proc in (sender, receiver):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in (sender, receiver):
            if proc is not None:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        receiver_log.close()
        sender_log.close()
    assert receiver.returncode == 0, (tmp_path / "receiver.log").read_text()
    assert "health endpoint on http://127.0.0.1" in (tmp_path / "receiver.log").read_text()


def test_a_bad_health_address_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[telemetry]\nhealth = "localhost"\n')
    result = subprocess.run(
        [sys.executable, "-m", "ristbond_core.cli", "config", "check", str(cfg)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert "telemetry.health" in result.stderr
    assert "expected HOST:PORT" in result.stderr
    assert "Traceback" not in result.stderr
