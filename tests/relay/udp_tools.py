"""Loopback UDP helpers for relay tests: free port pairs and a timestamping sender/receiver."""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

HOST = "127.0.0.1"
PORT_RANGE = (23000, 23999)
# A datagram carries its sequence number and the monotonic time it was sent.
STAMP = struct.Struct("!QQ")


def free_port_pair(taken: set[int] | None = None, attempts: int = 200) -> int:
    """An even port P in 23000–23999 such that P and P+1 are free on 127.0.0.1 right now."""
    taken = taken if taken is not None else set()
    rng = random.Random()
    for _ in range(attempts):
        port = rng.randrange(PORT_RANGE[0], PORT_RANGE[1] - 1, 2)
        if port in taken or port + 1 in taken:
            continue
        probes: list[socket.socket] = []
        try:
            for candidate in (port, port + 1):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(sock)
                sock.bind((HOST, candidate))
        except OSError:
            continue
        finally:
            for sock in probes:
                sock.close()
        taken.update((port, port + 1))
        return port
    raise RuntimeError("no free port pair in 23000-23999")


def bound_socket(port: int = 0) -> socket.socket:
    """A UDP socket on 127.0.0.1 with a large receive buffer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind((HOST, port))
    return sock


def stamped(seq: int, size: int) -> bytes:
    """A datagram of ``size`` bytes carrying ``seq`` and the send time."""
    head = STAMP.pack(seq, time.monotonic_ns())
    return head + bytes(max(0, size - len(head)))


@dataclass
class Arrival:
    """One received datagram: its sequence number, one-way delay and arrival time."""

    seq: int
    delay_ms: float
    arrival_ns: int
    size: int


@dataclass
class Collector:
    """Drains a socket until it stays quiet, recording every stamped datagram."""

    sock: socket.socket
    arrivals: list[Arrival] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def start(self, quiet_s: float = 0.5, limit_s: float = 20.0) -> Collector:
        """Drain in a thread, so arrival times are taken as datagrams come in."""
        self._thread = threading.Thread(target=self.drain, args=(quiet_s, limit_s), daemon=True)
        self._thread.start()
        return self

    def wait(self) -> list[Arrival]:
        """The arrivals once the background drain has gone quiet."""
        assert self._thread is not None
        self._thread.join(60.0)
        return self.arrivals

    def drain(self, quiet_s: float = 0.5, limit_s: float = 20.0) -> list[Arrival]:
        """Receive until nothing arrives for ``quiet_s`` (or ``limit_s`` in all)."""
        end = time.monotonic() + limit_s
        self.sock.settimeout(quiet_s)
        while time.monotonic() < end:
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                break
            now = time.monotonic_ns()
            seq, sent_ns = STAMP.unpack_from(data)
            self.arrivals.append(Arrival(seq, (now - sent_ns) / 1e6, now, len(data)))
        return self.arrivals


def send_paced(sock: socket.socket, destination: tuple[str, int], count: int, size: int,
               interval_s: float) -> None:
    """Send ``count`` stamped datagrams, one every ``interval_s`` (0: in small bursts)."""
    start = time.monotonic()
    for seq in range(count):
        sock.sendto(stamped(seq, size), destination)
        if interval_s > 0:
            delay = start + (seq + 1) * interval_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        elif seq % 50 == 49:
            time.sleep(0.002)  # let the relay and the receiver keep up
