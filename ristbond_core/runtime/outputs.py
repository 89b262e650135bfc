"""Where the receiver's stream goes: UDP, a file or stdout."""

from __future__ import annotations

import socket
import sys
from typing import BinaryIO, Protocol

from ristbond_core.errors import RistbondError
from ristbond_core.runtime.segments import SegmentSender
from ristbond_core.runtime.urls import StreamUrl


class Output(Protocol):
    """A sink for released payloads, in order."""

    def write(self, payload: bytes) -> None:
        """Deliver one payload (never raises for a transient failure; counts it)."""
        ...

    def flush(self) -> None:
        """Push buffered bytes out."""
        ...

    def close(self) -> None:
        """Flush and release."""
        ...

    @property
    def errors(self) -> int:
        """Payloads that could not be delivered."""
        ...


class UdpOutput:
    """One datagram per payload to ``host:port`` (unicast or multicast).

    Payloads released together are sent together on ``flush`` (segmented where the
    kernel takes it, see :mod:`ristbond_core.runtime.segments`); the receiving
    application sees the same datagrams.
    """

    def __init__(self, url: StreamUrl) -> None:
        what = f"--output udp://{url.host}:{url.port}"
        try:
            infos = socket.getaddrinfo(url.host, url.port, type=socket.SOCK_DGRAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise RistbondError(f"{what}: cannot resolve {url.host!r}: {exc}") from None
        family, _, _, _, address = infos[0]
        self._address = address
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._pending: list[bytes] = []
        self._segments = SegmentSender()
        self._errors = 0

    def write(self, payload: bytes) -> None:
        """Queue for the next ``flush``."""
        self._pending.append(payload)

    def flush(self) -> None:
        """Send what is queued; a full buffer or an ICMP error costs those datagrams only."""
        if self._pending:
            pending, self._pending = self._pending, []
            self._errors += self._segments.send(self._sock, pending, self._address)[0]

    def close(self) -> None:
        """Send what is queued and close the socket."""
        try:
            self.flush()
        finally:
            self._sock.close()

    @property
    def errors(self) -> int:
        """Datagrams that failed to send."""
        return self._errors


class StreamOutput:
    """Payloads appended to a byte stream (a file or stdout)."""

    def __init__(self, stream: BinaryIO, *, owned: bool) -> None:
        self._stream = stream
        self._owned = owned
        self._errors = 0

    def write(self, payload: bytes) -> None:
        """Append; a failed write (disk full, closed pipe) is counted."""
        try:
            self._stream.write(payload)
        except BrokenPipeError:
            raise
        except OSError:
            self._errors += 1

    def flush(self) -> None:
        """Flush so a reader sees whole payloads promptly."""
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError:
            self._errors += 1

    def close(self) -> None:
        """Flush; close files we opened."""
        try:
            self.flush()
        finally:
            if self._owned:
                self._stream.close()

    @property
    def errors(self) -> int:
        """Writes that failed."""
        return self._errors


def open_output(url: StreamUrl) -> Output:
    """Open the output a URL names."""
    if url.kind == "udp":
        return UdpOutput(url)
    if url.kind == "file":
        try:
            stream = open(url.path, "wb")  # noqa: SIM115 - owned by the output, closed by it
        except OSError as exc:
            raise RistbondError(
                f"--output file://{url.path}: cannot open for writing: {exc.strerror}"
            ) from None
        return StreamOutput(stream, owned=True)
    if url.kind == "stdio":
        return StreamOutput(sys.stdout.buffer, owned=False)
    raise RistbondError(f"--output: unsupported output kind {url.kind!r}")
