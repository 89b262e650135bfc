"""Helpers for end-to-end runs: free loopback ports, CLI subprocesses, their results.

Every process a test starts is tracked by PID and killed in the fixture's teardown if
it is still running; nothing else is ever signalled.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PORT_RANGE = (22000, 22999)
FINAL_SHA = re.compile(r"(?:input|output) (\d+) datagrams (\d+) bytes sha256 ([0-9a-f]{64})")


def _pair_free(port: int) -> bool:
    socks = []
    try:
        for p in (port, port + 1):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(sock)
            sock.bind(("127.0.0.1", p))
    except OSError:
        return False
    finally:
        for sock in socks:
            sock.close()
    return True


def udp_port_held(port: int) -> bool:
    """Whether a UDP socket is bound to ``port`` (read from /proc, binding nothing)."""
    wanted = f":{port:04X}"
    for table in (Path("/proc/net/udp"), Path("/proc/net/udp6")):
        with contextlib.suppress(OSError):
            for line in table.read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 1 and fields[1].endswith(wanted):
                    return True
    return False


def free_even_port(taken: set[int]) -> int:
    """An even port P in 22000–22998 with P and P+1 free on 127.0.0.1 for UDP."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(PORT_RANGE[0], PORT_RANGE[1], 2)
        if port not in taken and _pair_free(port):
            taken.add(port)
            return port
    raise RuntimeError("no free even UDP port pair in 22000-22999")


@dataclass
class Proc:
    """A started CLI process with its output files."""

    popen: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def signal(self, signum: int) -> None:
        """Signal this process (by its PID) if it still runs."""
        if self.popen.poll() is None:
            self.popen.send_signal(signum)

    def wait(self, timeout_s: float) -> int:
        """Exit status, waiting at most ``timeout_s``."""
        return self.popen.wait(timeout=timeout_s)

    @property
    def err(self) -> str:
        """Everything written to stderr so far."""
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    def final(self) -> tuple[int, int, str]:
        """(datagrams, bytes, sha256) from the final stats line."""
        match = FINAL_SHA.search(self.err)
        assert match is not None, f"no final stats line in stderr:\n{self.err}"
        return int(match.group(1)), int(match.group(2)), match.group(3)


class Runner:
    """Starts ``ristbond`` subcommands and cleans up after them."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[Proc] = []
        self.ports: set[int] = set()

    def port(self) -> int:
        """A free even port (RTCP on +1)."""
        return free_even_port(self.ports)

    def start(self, name: str, *args: str) -> Proc:
        """Run ``python -m ristbond_core.cli ARGS`` in the background."""
        out, err = self.tmp / f"{name}.out", self.tmp / f"{name}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            popen = subprocess.Popen(
                [sys.executable, "-m", "ristbond_core.cli", *args],
                stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
            )
        proc = Proc(popen, out, err)
        self.procs.append(proc)
        return proc

    def run(self, *args: str, timeout_s: float = 15.0) -> subprocess.CompletedProcess[str]:
        """Run a subcommand to completion."""
        return subprocess.run(
            [sys.executable, "-m", "ristbond_core.cli", *args],
            capture_output=True, text=True, timeout=timeout_s, check=False,
            stdin=subprocess.DEVNULL,
        )

    def cleanup(self) -> None:
        """Kill, by PID, every process this runner started that still runs."""
        for proc in self.procs:
            if proc.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.popen.send_signal(signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(timeout=5)


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    """A process runner whose processes are killed at teardown."""
    instance = Runner(tmp_path)
    try:
        yield instance
    finally:
        instance.cleanup()


def wait_until_bound(port: int, proc: Proc, timeout_s: float = 10.0) -> None:
    """Wait until something holds UDP ``port`` on 127.0.0.1 (the receiver is up)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.popen.poll() is None, f"receiver exited early:\n{proc.err}"
        if udp_port_held(port):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port} after {timeout_s} s:\n{proc.err}")


def wait_port_bound(port: int, timeout_s: float = 10.0) -> None:
    """Wait until any process holds UDP ``port`` (a peer we did not write is up)."""
    deadline = time.monotonic() + timeout_s
    while not udp_port_held(port):
        assert time.monotonic() < deadline, f"nothing bound UDP port {port}"
        time.sleep(0.05)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every JSON line of a stats file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def collect_udp_while_running(sock: socket.socket, proc: Proc, into: bytearray, *,
                              limit_s: float, settle_s: float, poll_s: float = 0.005) -> None:
    """Append what arrives on the non-blocking ``sock`` to ``into`` while ``proc`` runs
    (at most ``limit_s``), then for ``settle_s`` more (what is still in flight)."""
    deadline = time.monotonic() + limit_s
    while proc.popen.poll() is None and time.monotonic() < deadline:
        _drain_udp(sock, into)
        time.sleep(poll_s)
    settle = time.monotonic() + settle_s
    while time.monotonic() < settle:
        _drain_udp(sock, into)
        time.sleep(poll_s)


def _drain_udp(sock: socket.socket, into: bytearray) -> None:
    for _ in range(1000):  # bounded: a busy sender cannot keep this loop forever
        try:
            into += sock.recv(65_536)
        except BlockingIOError:
            return
