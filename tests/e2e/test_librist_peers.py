"""Our send/receive against librist's ristreceiver/ristsender (simple profile, loopback).

librist loses the first packets of a session while it hands shake (it sends no data
before it has heard RTCP from its peer); everything after that must be whole.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from ristbond_core.runtime.testsrc import CHUNK_BYTES, check_ts, make_testsrc_chunk
from tests.conftest import require_program
from tests.e2e.conftest import (
    Runner,
    collect_udp_while_running,
    wait_port_bound,
    wait_until_bound,
)

pytestmark = [pytest.mark.e2e, pytest.mark.interop]


def first_index(data: bytes) -> int:
    """The testsrc chunk number at the start of ``data``."""
    return int.from_bytes(data[4:12], "big") // 7


def contiguous_testsrc(data: bytes) -> bool:
    """Whether ``data`` is an unbroken run of testsrc chunks (wherever it starts)."""
    start = first_index(data)
    count = len(data) // CHUNK_BYTES
    return data == b"".join(make_testsrc_chunk(start + i) for i in range(count))


def start_peer(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def stop_peer(peer: subprocess.Popen[bytes]) -> None:
    if peer.poll() is None:
        peer.send_signal(signal.SIGTERM)
        try:
            peer.wait(timeout=5)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait(timeout=5)


def test_ristbond_send_into_ristreceiver(runner: Runner) -> None:
    program = require_program("ristreceiver", "rist-tools")
    rist, sink_port = runner.port(), runner.port()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", sink_port))
    sink.setblocking(False)
    peer = start_peer([program, "-p", "0", "-b", "300", "-i", f"rist://@127.0.0.1:{rist}",
                       "-o", f"udp://127.0.0.1:{sink_port}"], runner.tmp / "ristreceiver.log")
    got = bytearray()
    try:
        wait_port_bound(rist)
        # Both links aim at the one port: ristreceiver merges links only that way.
        sender = runner.start("sender", "send", "--input", "testsrc://?bitrate=3000",
                              "--link", f"rist://127.0.0.1:{rist}",
                              "--link", f"rist://127.0.0.1:{rist}",
                              "--latency-ms", "300", "--duration", "2.5")
        collect_udp_while_running(sink, sender, got, limit_s=15, settle_s=1.0, poll_s=0.01)
        assert sender.wait(1) == 0, sender.err
    finally:
        stop_peer(peer)
        sink.close()
    sent = sender.final()[0]
    data = bytes(got)
    assert check_ts(data).clean
    assert contiguous_testsrc(data)
    assert first_index(data) <= 3
    assert len(data) // CHUNK_BYTES == sent - first_index(data)


def test_ristsender_into_ristbond_receive(runner: Runner) -> None:
    program = require_program("ristsender", "rist-tools")
    rist, feed = runner.port(), runner.port()
    out = runner.tmp / "out.ts"
    receiver = runner.start("receiver", "receive", "--listen", f"rist://@127.0.0.1:{rist}",
                            "--output", f"file://{out}", "--latency-ms", "300",
                            "--duration", "15")
    wait_until_bound(rist, receiver)
    peer = start_peer([program, "-p", "0", "-i", f"udp://@127.0.0.1:{feed}", "-o",
                       f"rist://127.0.0.1:{rist}?weight=0,rist://127.0.0.1:{rist}?weight=0"],
                      runner.tmp / "ristsender.log")
    source = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    count = 500
    try:
        wait_port_bound(feed)
        for index in range(count):
            source.sendto(make_testsrc_chunk(index), ("127.0.0.1", feed))
            time.sleep(0.004)
        time.sleep(1.0)
    finally:
        stop_peer(peer)
        source.close()
    receiver.signal(signal.SIGINT)
    assert receiver.wait(6) == 0, receiver.err
    data = out.read_bytes()
    assert check_ts(data).clean
    assert contiguous_testsrc(data)
    # The handshake costs librist its first RTCP interval or so; the rest is whole.
    assert first_index(data) < count // 4
    assert first_index(data) + len(data) // CHUNK_BYTES == count

