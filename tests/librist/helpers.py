"""Payloads, pacing and collection for the librist transport tests (loopback only)."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Sequence

from ristbond_transport_librist import LibristOptions, LibristTransport

from ristbond_core.contracts import LinkEndpoint, ListenEndpoint, SessionSettings

HOST = "127.0.0.1"
PAYLOAD_SIZE = 1316
SECRET = "ristbond-test-psk"
PSK = {"secret": SECRET, "aes-type": 128}
LATENCY_MS = 200


def payload(index: int) -> bytes:
    """A 1316-byte payload numbered ``index`` (the number repeated, so corruption shows)."""
    return (index.to_bytes(4, "big") * (PAYLOAD_SIZE // 4))[:PAYLOAD_SIZE]


def index_of(data: bytes) -> int:
    """The number a ``payload`` carries."""
    return int.from_bytes(data[:4], "big")


def write_paced(sender: LibristTransport, count: int, packets_per_s: float,
                receiver: LibristTransport | None = None,
                collected: list[bytes] | None = None) -> None:
    """Write ``count`` numbered payloads at a steady rate, reading ``receiver`` meanwhile."""
    start = time.monotonic()
    for index in range(count):
        sender.write(payload(index))
        if index % 10 == 9:
            if receiver is not None and collected is not None:
                collected.extend(receiver.read(1000))
            delay = start + (index + 1) / packets_per_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def drain_receiver(receiver: LibristTransport, collected: list[bytes], last: int,
                   limit_s: float) -> None:
    """Read ``receiver`` until payload number ``last`` arrived or ``limit_s`` passed."""
    fd = receiver.fileno()
    assert fd is not None
    end = time.monotonic() + limit_s
    while not (collected and index_of(collected[-1]) == last) and time.monotonic() < end:
        if select.select([fd], [], [], 0.05)[0]:
            collected.extend(receiver.read(1000))


def drain_socket(sock: socket.socket, collected: list[bytes], last: int,
                 limit_s: float) -> None:
    """Receive datagrams until payload number ``last`` arrived or ``limit_s`` passed."""
    sock.setblocking(False)
    end = time.monotonic() + limit_s
    while not (collected and index_of(collected[-1]) == last) and time.monotonic() < end:
        if select.select([sock], [], [], 0.05)[0]:
            for _ in range(1000):
                try:
                    collected.append(sock.recv(65_535))
                except BlockingIOError:
                    break


def assert_stream_intact(collected: Sequence[bytes], count: int) -> None:
    """Every payload from number 0 to ``count - 1``, in order, byte-identical.

    No head loss is tolerated: the sender holds payloads until a peer is connected.
    """
    assert collected, "nothing was delivered"
    first = index_of(collected[0])
    assert first == 0, f"the first {first} payloads were lost"
    missing = sorted(set(range(count)) - {index_of(p) for p in collected})
    assert not missing, f"{len(missing)} payloads missing, first {missing[:10]}"
    assert list(collected) == [payload(i) for i in range(count)]


def links(ports: Sequence[int], options: dict[str, object] | None = None) -> list[LinkEndpoint]:
    """Sender links ``l0``, ``l1``, ... to ``127.0.0.1:port``."""
    return [LinkEndpoint(f"l{i}", HOST, port, options=dict(options or {}))
            for i, port in enumerate(ports)]


def listeners(ports: Sequence[int],
              options: dict[str, object] | None = None) -> list[ListenEndpoint]:
    """Receiver listen endpoints on ``127.0.0.1:port``."""
    return [ListenEndpoint(HOST, port, dict(options or {})) for port in ports]


def settings(flow_id: int = 0) -> SessionSettings:
    """The session settings every test uses (short buffer keeps the tail short)."""
    return SessionSettings(latency_ms=LATENCY_MS, flow_id=flow_id)


def transport(**options: object) -> LibristTransport:
    """A transport with fast stats reports unless told otherwise."""
    options.setdefault("stats_interval_ms", 200)
    return LibristTransport(LibristOptions.model_validate(options))
