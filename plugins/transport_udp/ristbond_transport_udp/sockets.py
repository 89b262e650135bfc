"""Creating and binding UDP sockets: address families, devices, even/odd port pairs."""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import time
from collections.abc import Sequence

from ristbond_core.errors import RistbondError

#: How many ephemeral ports to try for an even RTP port with a free odd neighbour.
PAIR_ATTEMPTS = 32

Address = tuple[str, int]

#: ``struct timespec`` as the kernel hands it in an SCM_TIMESTAMPNS message.
_TIMESPEC = struct.Struct("@ll")
#: Ancillary space ``recvmsg`` needs for one arrival stamp.
STAMP_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)
#: Linux's SO_TIMESTAMPNS (= SCM_TIMESTAMPNS; Python does not name it). Elsewhere, or
#: where an architecture numbers it differently, no stamp is found and reads are timed.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform == "linux" else None)


def resolve(host: str, port: int, what: str) -> tuple[socket.AddressFamily, Address]:
    """The first UDP address for ``host``; a clear error naming ``what`` when it fails."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RistbondError(f"{what}: cannot resolve host {host!r}: {exc}") from None
    family, _, _, _, sockaddr = infos[0]
    return family, (str(sockaddr[0]), int(sockaddr[1]))


def check_interface(interface: str, what: str) -> None:
    """Fail at once, naming the link, when the device does not exist."""
    try:
        socket.if_nametoindex(interface)
    except OSError:
        raise RistbondError(
            f"{what}: network interface {interface!r} does not exist "
            "(see `ip link` for the names on this machine)"
        ) from None


def new_socket(
    family: socket.AddressFamily,
    *,
    interface: str | None,
    rcvbuf: int | None,
    sndbuf: int | None,
    dscp: int,
    what: str,
) -> socket.socket:
    """A non-blocking UDP socket with buffers, DSCP and device binding applied."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if sndbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        if dscp:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, dscp << 2)
            else:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, dscp << 2)
        if interface is not None:
            bind_to_device(sock, interface, what)
        enable_arrival_stamps(sock)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def enable_arrival_stamps(sock: socket.socket) -> bool:
    """Ask the kernel to stamp each datagram on arrival (SO_TIMESTAMPNS).

    The loop reads its sockets in batches, up to a wake-up interval after a datagram
    arrived; the kernel's stamp keeps transit, jitter and packet-pair timing exact
    regardless. Where the option is missing the read time is used instead.
    """
    if SO_TIMESTAMPNS is None:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def realtime_minus_monotonic_ns() -> int:
    """Offset from the monotonic clock to the wall clock the kernel stamps with, now."""
    return time.time_ns() - time.monotonic_ns()


def arrival_ns(ancdata: Sequence[tuple[int, int, bytes]], offset_ns: int, read_ns: int) -> int:
    """A datagram's arrival on the monotonic clock: the kernel's stamp when there is one
    (``offset_ns`` from :func:`realtime_minus_monotonic_ns`), else ``read_ns``."""
    for level, kind, blob in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS \
                and len(blob) == _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack(blob)
            return int(seconds) * 1_000_000_000 + int(nanoseconds) - offset_ns
    return read_ns


def bind_to_device(sock: socket.socket, interface: str, what: str) -> None:
    """SO_BINDTODEVICE, or a hard error: a silent fallback would route over the wrong link."""
    device = getattr(socket, "SO_BINDTODEVICE", None)
    if device is None:
        raise RistbondError(
            f"{what}: cannot bind to interface {interface!r}: this system has no "
            "SO_BINDTODEVICE; use source=ADDRESS instead"
        )
    try:
        sock.setsockopt(socket.SOL_SOCKET, device, interface.encode() + b"\0")
    except OSError as exc:
        hint = " (needs root or CAP_NET_RAW)" if isinstance(exc, PermissionError) else ""
        raise RistbondError(
            f"{what}: cannot bind to interface {interface!r}: {exc.strerror}{hint}"
        ) from None


def bind(sock: socket.socket, address: Address, what: str) -> None:
    """``bind`` with an error that names what was being bound."""
    try:
        sock.bind(address)
    except OSError as exc:
        raise RistbondError(
            f"{what}: cannot bind {address[0]}:{address[1]}: {exc.strerror}"
        ) from None


def bound_port(sock: socket.socket) -> int:
    """The local port a socket is bound to."""
    return int(sock.getsockname()[1])


def try_bind(sock: socket.socket, address: Address) -> bool:
    """Bind, reporting only whether it worked (for the port-pair search)."""
    try:
        sock.bind(address)
    except OSError:
        return False
    return True


def close_all(*socks: socket.socket | None) -> None:
    """Close sockets, ignoring errors (cleanup paths)."""
    for sock in socks:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
