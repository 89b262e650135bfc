"""Where the sender's stream comes from: UDP (unicast or multicast), a file, stdin, testsrc.

An input is either *readable* (a descriptor the loop selects on: UDP, a stdin pipe) or
*timed* (the loop wakes at ``next_ready_ns()``: files and the test source, which
are paced at the stream bitrate so a file plays out like a live feed).
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
import sys
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from ristbond_core.engine.common import NS_PER_S
from ristbond_core.errors import RistbondError
from ristbond_core.runtime.clock import MAX_PACING_BACKLOG_NS
from ristbond_core.runtime.pcr import PcrPacedInput
from ristbond_core.runtime.testsrc import make_testsrc_chunk
from ristbond_core.runtime.urls import StreamUrl

MAX_UDP_DATAGRAM = 65_535
STDIN_READ_BYTES = 64 * 1024


class Input(Protocol):
    """One source of input datagrams."""

    def fileno(self) -> int | None:
        """A descriptor to wait on, or None for a timed input."""
        ...

    def next_ready_ns(self) -> int | None:
        """When a timed input has its next chunk (None: readable input or finished)."""
        ...

    def read(self, now_ns: int, limit: int) -> list[bytes]:
        """Up to ``limit`` datagrams available now, without blocking."""
        ...

    @property
    def finished(self) -> bool:
        """True once the input has ended (end of file); live inputs never end."""
        ...

    def close(self) -> None:
        """Release the descriptor."""
        ...


class PacedInput:
    """Chunks from an iterator, released at ``bitrate_bps`` on the monotonic clock."""

    def __init__(self, chunks: Iterator[bytes], bitrate_bps: int, start_ns: int,
                 closer: BinaryIO | None = None) -> None:
        self._chunks = chunks
        self._bitrate_bps = bitrate_bps
        self._next_ns = start_ns
        self._pending = next(self._chunks, None)
        self._closer = closer

    def fileno(self) -> int | None:
        """Timed input: nothing to select on."""
        return None

    def next_ready_ns(self) -> int | None:
        """The send time of the next chunk."""
        return None if self._pending is None else self._next_ns

    def read(self, now_ns: int, limit: int) -> list[bytes]:
        """Every chunk whose time has come (at most ``limit``)."""
        if now_ns - self._next_ns > MAX_PACING_BACKLOG_NS:
            self._next_ns = now_ns  # after a stall, resume pacing rather than burst
        out: list[bytes] = []
        while self._pending is not None and self._next_ns <= now_ns and len(out) < limit:
            out.append(self._pending)
            self._next_ns += len(self._pending) * 8 * NS_PER_S // self._bitrate_bps
            self._pending = next(self._chunks, None)
        return out

    @property
    def finished(self) -> bool:
        """True when the iterator is exhausted."""
        return self._pending is None

    def close(self) -> None:
        """Close the underlying file, if any."""
        if self._closer is not None:
            self._closer.close()


def endless_testsrc() -> Iterator[bytes]:
    """The endless test stream (``make_testsrc_chunk(0)``, ``make_testsrc_chunk(1)``, ...)."""
    index = 0
    while True:
        yield make_testsrc_chunk(index)
        index += 1


def file_chunks(stream: BinaryIO, chunk_bytes: int) -> Iterator[bytes]:
    """Fixed-size chunks of a file (7 TS packets normally); the last may be shorter."""
    while chunk := stream.read(chunk_bytes):
        yield chunk


class UdpInput:
    """Datagrams from a UDP socket, joined to a multicast group when the host is one."""

    def __init__(self, url: StreamUrl, rcvbuf_bytes: int = 4 * 1024 * 1024) -> None:
        what = f"--input udp://@{url.host}:{url.port}"
        unknown = sorted({k for k, _ in url.params} - {"iface"})
        if unknown:
            raise RistbondError(f"{what}: unknown parameter {unknown[0]!r} (udp inputs take "
                                "?iface=ADDRESS for multicast)")
        family = socket.AF_INET6 if ":" in url.host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with contextlib.suppress(OSError):  # the kernel may cap it; not fatal
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf_bytes)
            if url.multicast:
                self._sock.bind(("" if family == socket.AF_INET else "::", url.port))
                self._join(url.host, family, url.param("iface"))
            else:
                self._sock.bind((url.host or ("0.0.0.0" if family == socket.AF_INET else "::"),
                                 url.port))
            self._sock.setblocking(False)
        except (OSError, ValueError) as exc:
            self._sock.close()
            cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise RistbondError(f"{what}: cannot open: {cause}") from None

    def _join(self, group: str, family: socket.AddressFamily, iface: str | None) -> None:
        """Join ``group``; IPv4 ``iface`` is a local address, IPv6 an interface name."""
        if family == socket.AF_INET:
            local = socket.inet_aton(iface or "0.0.0.0")
            request = struct.pack("=4s4s", socket.inet_aton(group), local)
            self._sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, request)
        else:
            index = socket.if_nametoindex(iface) if iface else 0
            request = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", index)
            self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, request)

    def fileno(self) -> int | None:
        """The socket."""
        return self._sock.fileno()

    def next_ready_ns(self) -> int | None:
        """Readable input."""
        return None

    def read(self, now_ns: int, limit: int) -> list[bytes]:
        """Datagrams waiting on the socket."""
        out: list[bytes] = []
        while len(out) < limit:
            try:
                out.append(self._sock.recv(MAX_UDP_DATAGRAM))
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue  # a queued ICMP error: the next datagram is still good
        return out

    @property
    def finished(self) -> bool:
        """A UDP input never ends."""
        return False

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()


class PipeInput:
    """A byte stream (stdin pipe) cut into chunks of 7 TS packets as it arrives."""

    def __init__(self, fd: int, chunk_bytes: int) -> None:
        self._fd = fd
        self._chunk = chunk_bytes
        self._buffer = bytearray()
        self._eof = False
        os.set_blocking(fd, False)

    def fileno(self) -> int | None:
        """The pipe."""
        return None if self._eof else self._fd

    def next_ready_ns(self) -> int | None:
        """Readable input."""
        return None

    def read(self, now_ns: int, limit: int) -> list[bytes]:
        """Whole chunks available now; the tail is flushed at end of stream."""
        for _ in range(limit):
            try:
                data = os.read(self._fd, STDIN_READ_BYTES)
            except (BlockingIOError, InterruptedError):
                break
            if not data:
                self._eof = True
                break
            self._buffer += data
        whole = len(self._buffer) - len(self._buffer) % self._chunk
        if self._eof:
            whole = len(self._buffer)
        out = [bytes(self._buffer[i:i + self._chunk]) for i in range(0, whole, self._chunk)]
        del self._buffer[:whole]
        return out

    @property
    def finished(self) -> bool:
        """True once the writer closed the pipe and everything was read."""
        return self._eof and not self._buffer

    def close(self) -> None:
        """stdin stays open (it is not ours)."""


def open_input(url: StreamUrl, *, bitrate_kbps: int, payload_bytes: int, now_ns: int,
               pacing: str = "bitrate") -> Input:
    """Open the input a URL names; files and testsrc are paced at the bitrate.

    ``pacing="pcr"`` paces a file (or a file on stdin) by its PCRs instead.
    """
    chunk = max(188, payload_bytes - payload_bytes % 188)
    if url.kind == "testsrc":
        rate = url.param("bitrate")
        if rate is not None and (not rate.isdigit() or int(rate) <= 0):
            raise RistbondError(f"--input testsrc://?bitrate={rate}: bitrate must be a "
                                "positive integer in kbit/s")
        unknown = sorted({k for k, _ in url.params} - {"bitrate"})
        if unknown:
            raise RistbondError(f"--input testsrc://: unknown parameter {unknown[0]!r} "
                                "(testsrc takes ?bitrate=KBPS)")
        kbps = int(rate) if rate is not None else bitrate_kbps
        return PacedInput(endless_testsrc(), kbps * 1000, now_ns)
    if url.kind == "udp":
        return UdpInput(url)
    if url.kind == "file":
        try:
            stream = open(url.path, "rb")  # noqa: SIM115 - owned by the input, closed by it
        except OSError as exc:
            raise RistbondError(f"--input file://{url.path}: cannot open: {exc.strerror}") from None
        return _paced_file(stream, chunk, bitrate_kbps, now_ns, pacing=pacing, closer=stream)
    if url.kind == "stdio":
        fd = sys.stdin.fileno()
        if stat.S_ISREG(os.fstat(fd).st_mode):
            # A file redirected to stdin plays out at the bitrate like file://.
            return _paced_file(sys.stdin.buffer, chunk, bitrate_kbps, now_ns, pacing=pacing,
                               closer=None)
        return PipeInput(fd, chunk)
    raise RistbondError(f"--input: unsupported input kind {url.kind!r}")


def _paced_file(stream: BinaryIO, chunk: int, bitrate_kbps: int, now_ns: int, *, pacing: str,
                closer: BinaryIO | None) -> Input:
    if pacing == "pcr":
        return PcrPacedInput(file_chunks(stream, chunk), bitrate_kbps * 1000, now_ns, closer)
    return PacedInput(file_chunks(stream, chunk), bitrate_kbps * 1000, now_ns, closer)
