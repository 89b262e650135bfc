"""Fixtures for the librist transport tests: the library check, loopback ports, peers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator

import pytest
from ristbond_transport_librist import binding

from tests.conftest import REQUIRE_PEERS_ENV
from tests.librist.helpers import HOST
from tests.relay.udp_tools import free_port_pair


def require_librist() -> None:
    """Skip when librist cannot be loaded; fail instead under ``RISTBOND_REQUIRE_PEERS=1``."""
    try:
        binding.load()
    except binding.LibristUnavailable as exc:
        if os.environ.get(REQUIRE_PEERS_ENV) == "1":
            pytest.fail(f"{exc}; {REQUIRE_PEERS_ENV}=1 makes this a failure")
        pytest.skip(str(exc))


@pytest.fixture
def librist() -> None:
    """The test needs librist itself."""
    require_librist()


@pytest.fixture(scope="session")
def taken_ports() -> set[int]:
    """Ports handed out in this run, so no two tests share one."""
    return set()


@pytest.fixture
def free_port(taken_ports: set[int]) -> Callable[[], int]:
    """A free loopback port (even, with its odd neighbour free too)."""
    return lambda: free_port_pair(taken_ports)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Peers started by the test; each is killed by its PID at the end if still running."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture
def output() -> Iterator[socket.socket]:
    """A UDP socket for a librist tool (ristreceiver) to write its output to."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    sock.bind((HOST, 0))
    try:
        yield sock
    finally:
        sock.close()
