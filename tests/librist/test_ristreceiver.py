"""LibristTransport sender -> librist's own ``ristreceiver`` (main profile, 2 links, PSK)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

import pytest
from ristbond_transport_librist import LibristTransport

from tests.conftest import require_program
from tests.librist.helpers import (
    HOST,
    PSK,
    SECRET,
    assert_stream_intact,
    drain_socket,
    links,
    payload,
    settings,
    transport,
    write_paced,
)

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("librist")]

COUNT = 3000
RATE_PPS = 400  # ~4.2 Mbit/s


def start_ristreceiver(processes: list[subprocess.Popen[bytes]], ports: list[int],
                       secret: str, out_port: int) -> None:
    program = require_program("ristreceiver", "rist-tools")
    inputs = ",".join(f"rist://@{HOST}:{p}?secret={secret}&aes-type=128&buffer=200"
                      for p in ports)
    proc = subprocess.Popen(
        [program, "-p", "1", "-i", inputs, "-o", f"udp://{HOST}:{out_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(proc)
    time.sleep(0.3)  # let it bind before the sender's first handshake
    assert proc.poll() is None, "ristreceiver exited at start"


def run_sender(ports: list[int], count: int) -> LibristTransport:
    sender = transport()
    sender.start_sender(settings(flow_id=3030), links(ports, PSK))
    try:
        write_paced(sender, count, RATE_PPS)
    except BaseException:
        sender.close()
        raise
    return sender


def test_ristreceiver_gets_a_byte_identical_stream(
        free_port: Callable[[], int], processes: list[subprocess.Popen[bytes]],
        output: socket.socket) -> None:
    ports = [free_port(), free_port()]
    start_ristreceiver(processes, ports, SECRET, output.getsockname()[1])
    collected: list[bytes] = []
    sender = transport()
    try:
        sender.start_sender(settings(flow_id=3030), links(ports, PSK))
        # Collect while writing: the output socket must not overflow.
        start = time.monotonic()
        for chunk in range(COUNT // 100):
            write_paced_chunk(sender, chunk * 100, 100, start)
            drain_socket(output, collected, chunk * 100 + 99, limit_s=0.0)
        drain_socket(output, collected, COUNT - 1, limit_s=5.0)
    finally:
        sender.close()
    assert_stream_intact(collected, COUNT)


def write_paced_chunk(sender: LibristTransport, first: int, count: int, start: float) -> None:
    """Write payloads ``first .. first+count-1`` on the global pace from ``start``."""
    for index in range(first, first + count):
        sender.write(payload(index))
        delay = start + (index + 1) / RATE_PPS - time.monotonic()
        if delay > 0.002:
            time.sleep(delay)


def test_a_wrong_secret_delivers_nothing(
        free_port: Callable[[], int], processes: list[subprocess.Popen[bytes]],
        output: socket.socket) -> None:
    ports = [free_port(), free_port()]
    start_ristreceiver(processes, ports, "another-secret", output.getsockname()[1])
    sender = run_sender(ports, 400)
    try:
        collected: list[bytes] = []
        drain_socket(output, collected, 399, limit_s=1.0)
    finally:
        sender.close()
    assert collected == []
