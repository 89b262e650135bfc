"""Other inputs and outputs end to end: UDP in/out, stdin/stdout, a paced file."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

from ristbond_core.runtime.testsrc import CHUNK_BYTES, expected_testsrc, make_testsrc_chunk
from tests.e2e.conftest import Runner, wait_until_bound

pytestmark = pytest.mark.e2e


def drain(sock: socket.socket, into: list[bytes]) -> None:
    """Append every datagram waiting on a non-blocking socket."""
    while True:
        try:
            into.append(sock.recv(65535))
        except BlockingIOError:
            return


def test_udp_input_to_udp_output(runner: Runner) -> None:
    rist, feed, sink_port = runner.port(), runner.port(), runner.port()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", sink_port))
    sink.setblocking(False)
    source = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver = runner.start("receiver", "receive", "--listen", f"rist://@127.0.0.1:{rist}",
                                "--output", f"udp://127.0.0.1:{sink_port}", "--latency-ms",
                                "200", "--duration", "15")
        wait_until_bound(rist, receiver)
        sender = runner.start("sender", "send", "--input", f"udp://@127.0.0.1:{feed}",
                              "--link", f"rist://127.0.0.1:{rist}", "--latency-ms", "200")
        wait_until_bound(feed, sender)
        count = 300
        got: list[bytes] = []
        for index in range(count):
            source.sendto(make_testsrc_chunk(index), ("127.0.0.1", feed))
            time.sleep(0.002)
            drain(sink, got)  # keep the sink's socket buffer from overflowing
        deadline = time.monotonic() + 8
        while len(got) < count and time.monotonic() < deadline:
            time.sleep(0.02)
            drain(sink, got)
        sender.signal(signal.SIGINT)
        assert sender.wait(6) == 0, sender.err
        assert got == [make_testsrc_chunk(i) for i in range(count)]
        assert sender.final()[0] == count
    finally:
        sink.close()
        source.close()


def test_stdin_to_stdout(runner: Runner) -> None:
    rist = runner.port()
    stream = expected_testsrc(400)
    receiver = runner.start("receiver", "receive", "--listen", f"rist://@127.0.0.1:{rist}",
                            "--output", "-", "--latency-ms", "200", "--duration", "15")
    wait_until_bound(rist, receiver)
    with subprocess.Popen(  # a pipe, so the sender reads stdin as a live stream
        [sys.executable, "-m", "ristbond_core.cli", "send", "--input", "-", "--link",
         f"rist://127.0.0.1:{rist}", "--latency-ms", "200"],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as sender:
        try:
            assert sender.stdin is not None
            for offset in range(0, len(stream), 10 * CHUNK_BYTES):
                sender.stdin.write(stream[offset:offset + 10 * CHUNK_BYTES])
                sender.stdin.flush()
                time.sleep(0.01)
            sender.stdin.close()
            assert sender.wait(timeout=10) == 0
            assert sender.stderr is not None
            err = sender.stderr.read()
            assert b"stopped (end of input)" in err
        finally:
            if sender.poll() is None:
                sender.kill()
    time.sleep(0.5)
    receiver.signal(signal.SIGINT)
    assert receiver.wait(6) == 0, receiver.err
    assert receiver.stdout.read_bytes() == stream


def test_a_file_input_is_paced_and_ends(runner: Runner) -> None:
    rist = runner.port()
    source = runner.tmp / "in.ts"
    source.write_bytes(expected_testsrc(200))
    out = runner.tmp / "out.ts"
    receiver = runner.start("receiver", "receive", "--listen", f"rist://@127.0.0.1:{rist}",
                            "--output", f"file://{out}", "--latency-ms", "200",
                            "--duration", "15")
    wait_until_bound(rist, receiver)
    # 200 chunks at 2 Mbit/s take about a second: the sender must not dump it at once.
    sender = runner.start("sender", "send", "--input", f"file://{source}", "--bitrate", "2000",
                          "--link", f"rist://127.0.0.1:{rist}", "--latency-ms", "200")
    assert sender.wait(12) == 0, sender.err
    assert "stopped (end of input)" in sender.err
    receiver.signal(signal.SIGINT)
    assert receiver.wait(6) == 0, receiver.err
    assert out.read_bytes() == source.read_bytes()
    uptime = float(sender.err.split(" after ")[1].split(" s")[0])
    assert uptime >= 0.9


def test_a_multicast_input_is_joined_and_sent(runner: Runner) -> None:
    rist, feed = runner.port(), runner.port()
    group = "239.255.42.1"
    out = runner.tmp / "out.ts"
    source = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Loopback only: leave through lo and never past this host.
    source.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    source.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 0)
    try:
        receiver = runner.start("receiver", "receive", "--listen", f"rist://@127.0.0.1:{rist}",
                                "--output", f"file://{out}", "--latency-ms", "200",
                                "--duration", "15")
        wait_until_bound(rist, receiver)
        sender = runner.start("sender", "send", "--input",
                              f"udp://@{group}:{feed}?iface=127.0.0.1",
                              "--link", f"rist://127.0.0.1:{rist}", "--latency-ms", "200")
        wait_until_bound(feed, sender)
        time.sleep(0.3)  # the membership is in place once the socket is bound and joined
        for index in range(100):
            source.sendto(make_testsrc_chunk(index), (group, feed))
            time.sleep(0.002)
        time.sleep(0.5)
        sender.signal(signal.SIGINT)
        assert sender.wait(6) == 0, sender.err
        receiver.signal(signal.SIGINT)
        assert receiver.wait(6) == 0, receiver.err
        assert sender.final()[0] == 100
        assert out.read_bytes() == expected_testsrc(100)
    finally:
        source.close()
