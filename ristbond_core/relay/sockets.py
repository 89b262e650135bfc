"""UDP socket helpers for the relay: resolve, bind an RTP/RTCP pair, choose a source address."""

from __future__ import annotations

import socket

from ristbond_core.errors import RistbondError

Address = tuple[str, int]

RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
PAIR_BIND_ATTEMPTS = 64


def resolve(host: str, port: int, option: str) -> tuple[socket.AddressFamily, Address]:
    """Address family and numeric (host, port) of ``host:port``; a clear error if unknown."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise RistbondError(f"{option}: cannot resolve {host!r}: {exc.strerror}") from None
    family, _, _, _, sockaddr = infos[0]
    return family, (str(sockaddr[0]), int(sockaddr[1]))


def udp_socket(family: socket.AddressFamily, address: Address, option: str) -> socket.socket:
    """A non-blocking UDP socket bound to ``address`` with a large receive buffer."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise RistbondError(f"{option}: cannot bind {address[0]}:{address[1]}: "
                            f"{exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


def bind_port_pair(
    family: socket.AddressFamily, host: str, port: int, option: str
) -> tuple[socket.socket, socket.socket]:
    """RTP socket on ``port`` and RTCP socket on ``port + 1``."""
    rtp = udp_socket(family, (host, port), option)
    try:
        rtcp = udp_socket(family, (host, port + 1), f"{option} (RTCP, port + 1)")
    except RistbondError:
        rtp.close()
        raise
    return rtp, rtcp


def bind_ephemeral_pair(
    family: socket.AddressFamily, host: str, option: str
) -> tuple[socket.socket, socket.socket]:
    """An even/odd pair of free ports, since RIST peers expect RTCP next to RTP."""
    for _ in range(PAIR_BIND_ATTEMPTS):
        rtp = udp_socket(family, (host, 0), option)
        port = int(rtp.getsockname()[1])
        if port % 2 == 0 and port < 65535:
            try:
                rtcp = udp_socket(family, (host, port + 1), option)
            except RistbondError:
                rtp.close()
                continue
            return rtp, rtcp
        rtp.close()
    raise RistbondError(f"{option}: found no free even/odd port pair on {host}")


def source_address_for(family: socket.AddressFamily, destination: Address) -> str:
    """The local address the kernel would send from to reach ``destination``.

    Connecting a UDP socket sends nothing; it only asks the routing table.
    """
    probe = socket.socket(family, socket.SOCK_DGRAM)
    try:
        probe.connect(destination)
        return str(probe.getsockname()[0])
    except OSError as exc:
        raise RistbondError(f"--forward: no route to {destination[0]}: {exc.strerror}") from None
    finally:
        probe.close()
