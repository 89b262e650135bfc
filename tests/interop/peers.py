"""Processes, ports, relays and stream checks for runs against other RIST implementations.

Every process here is started by the test that uses it and ended by its PID when the
test is done; ports come from 24000–24999 on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ristbond_core.relay import LinkSpec, Relay, model_from
from ristbond_core.runtime.testsrc import CHUNK_BYTES, make_testsrc_chunk
from tests.e2e.conftest import udp_port_held
from tests.e2e_impaired.harness import StreamVerdict, verdict

HOST = "127.0.0.1"
PORT_RANGE = (24000, 24999)
REPO = Path(__file__).resolve().parents[2]


# -- ports --------------------------------------------------------------------------------


def _pair_free(port: int) -> bool:
    socks: list[socket.socket] = []
    try:
        for each in (port, port + 1):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(sock)
            sock.bind((HOST, each))
    except OSError:
        return False
    finally:
        for sock in socks:
            sock.close()
    return True


class Ports:
    """Hands out even ports P (P+1 free too) in 24000–24998, never the same one twice."""

    def __init__(self) -> None:
        self.taken: set[int] = set()
        self._rng = random.Random()

    def pair(self) -> int:
        for _ in range(300):
            port = self._rng.randrange(PORT_RANGE[0], PORT_RANGE[1], 2)
            if port not in self.taken and _pair_free(port):
                self.taken.add(port)
                return port
        raise RuntimeError("no free even UDP port pair in 24000-24999")


def wait_bound(port: int, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 15.0
               ) -> None:
    """Wait until something holds UDP ``port`` while ``proc`` still runs."""
    deadline = time.monotonic() + timeout_s
    while not udp_port_held(port):
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args!r} exited early:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing bound UDP {port} after {timeout_s} s:\n{_tail(log)}")
        time.sleep(0.05)


# -- processes ----------------------------------------------------------------------------


def ristbond_argv(*args: str) -> list[str]:
    """The command line of one ``ristbond`` subcommand run from this checkout."""
    return [sys.executable, "-m", "ristbond_core.cli", *args]


@dataclass
class Started:
    """One process a test started, with the file its stdout and stderr go to."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@dataclass
class Group:
    """Starts processes; ``close`` ends each still running one by its PID."""

    workdir: Path
    started: list[Started] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None
              ) -> Started:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as sink:
            popen = subprocess.Popen(list(argv), stdout=sink, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=REPO,
                                     env=dict(env) if env is not None else None)
        proc = Started(name, popen, log)
        self.started.append(proc)
        return proc

    def wait(self, proc: Started, timeout_s: float) -> int:
        try:
            return proc.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{proc.name} did not end in {timeout_s} s:\n{proc.text()}"
                                 ) from None

    def stop(self, proc: Started, signum: int = signal.SIGINT, grace_s: float = 8.0) -> None:
        """Ask ``proc`` to stop; kill it if it has not after ``grace_s``."""
        if proc.popen.poll() is None:
            proc.popen.send_signal(signum)
            try:
                proc.popen.wait(grace_s)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(5)

    def close(self) -> None:
        for proc in reversed(self.started):
            if proc.popen.poll() is None:
                proc.popen.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(5)


@contextlib.contextmanager
def process_group(workdir: Path) -> Iterator[Group]:
    group = Group(workdir)
    try:
        yield group
    finally:
        group.close()


def _tail(log: Path, chars: int = 3000) -> str:
    with contextlib.suppress(OSError):
        return log.read_text(encoding="utf-8", errors="replace")[-chars:]
    return ""


# -- traffic ------------------------------------------------------------------------------


def feed_testsrc(port: int, chunks: int, interval_s: float = 0.004) -> None:
    """Send testsrc chunks 0..chunks-1 as UDP datagrams to ``port``, paced."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        start = time.monotonic()
        for index in range(chunks):
            sock.sendto(make_testsrc_chunk(index), (HOST, port))
            delay = start + (index + 1) * interval_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    finally:
        sock.close()


class UdpCollector:
    """Collects every datagram arriving on a port, in a thread, until ``close``."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((HOST, port))
        self.sock.settimeout(0.1)
        self.data = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="udp-collector", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.data += self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self) -> bytes:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        return bytes(self.data)


# -- relay --------------------------------------------------------------------------------


def relay_link(name: str, listen: int, forward: int, *, loss: str = "0", delay: str = "0ms",
               rate: str | None = None) -> LinkSpec:
    """A relayed link impairing only the forward (media) direction."""
    impair: dict[str, object] = {"loss": loss, "delay": delay}
    if rate is not None:
        impair["rate"] = rate
    forward_model = model_from(impair, name)
    reverse_model = model_from({"delay": delay}, name)
    return LinkSpec(name, (HOST, listen), (HOST, forward), forward_model, reverse_model)


def dropped_by_loss(running: Relay, link: str) -> int:
    stats: dict[str, Any] = running.stats()
    for entry in stats["links"]:
        if entry["name"] == link:
            return int(entry["forward"]["dropped_loss"])
    raise KeyError(link)


# -- results ------------------------------------------------------------------------------


def read_snapshots(path: Path) -> list[dict[str, Any]]:
    """Every stats snapshot of a JSON-lines file (a torn line is skipped)."""
    snapshots: list[dict[str, Any]] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                snapshots.append(json.loads(line))
    return snapshots


def assert_whole_from_first(data: bytes, sent_chunks: int, max_head_loss: int) -> StreamVerdict:
    """From the first chunk received to the last chunk sent: no gap, CC-clean, same bytes.

    ``max_head_loss`` is how many chunks the peer may lose before its session is up.
    """
    found = verdict(data)
    assert len(data) % CHUNK_BYTES == 0, f"{len(data)} bytes is not whole chunks"
    assert found.foreign_chunks == 0, found
    assert found.gaps == [], found
    assert (found.cc_errors, found.sync_errors) == (0, 0), found
    assert 0 <= found.first_index <= max_head_loss, found
    assert found.first_index + found.chunks == sent_chunks, (found, sent_chunks)
    expected = b"".join(make_testsrc_chunk(i) for i in range(found.first_index, sent_chunks))
    assert data == expected
    return found
