"""Sending runs of UDP datagrams with one system call each (Linux UDP GSO).

A bonded stream sends many equal-size datagrams from one socket to one address in each
pass of the loop: RTP packets of a link, TS datagrams to the output. With
``UDP_SEGMENT`` (Linux 4.18+) the kernel takes such a run as one send and cuts it into
the same datagrams on the way out, so the per-datagram cost of the network stack is paid
once per run. The receiver sees ordinary datagrams.

The kernel accepts a run whose datagrams all have one size, except that the last may be
shorter, of at most 64 datagrams and one IP payload. Where it refuses (an old kernel, a
device without checksum offload, a datagram bigger than the path MTU), that socket falls
back to one ``sendto`` per datagram for good.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Iterator, Sequence
from typing import Any

#: Linux's ``UDP_SEGMENT`` socket option / control message (not named by every Python).
UDP_SEGMENT = getattr(socket, "UDP_SEGMENT", 103)
SOL_UDP = getattr(socket, "SOL_UDP", socket.IPPROTO_UDP)
#: A socket address as ``getaddrinfo`` gives it (IPv4 or IPv6).
Address = tuple[Any, ...]
#: The kernel's limits on one segmented send.
MAX_SEGMENTS = 64
MAX_RUN_BYTES = 65_507
_SEGMENT_SIZE = struct.Struct("=H")
#: Errors that say "not with segmentation", rather than "not now".
_REFUSED = frozenset({errno.EINVAL, errno.EIO, errno.ENOPROTOOPT, errno.EOPNOTSUPP})


def runs(datagrams: Sequence[bytes]) -> Iterator[Sequence[bytes]]:
    """Split ``datagrams`` (in order) into the longest runs one segmented send can carry."""
    start = 0
    count = len(datagrams)
    while start < count:
        size = len(datagrams[start])
        end = start + 1
        total = size
        while end < count and end - start < MAX_SEGMENTS:
            length = len(datagrams[end])
            if length > size or total + length > MAX_RUN_BYTES:
                break
            end += 1
            total += length
            if length < size:
                break  # a shorter datagram can only close a run
        yield datagrams[start:end]
        start = end


class SegmentSender:
    """Sends datagram runs from sockets, segmented where the kernel takes it."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        #: Descriptors of sockets whose segmented send was refused.
        self._refused: set[int] = set()
        #: Runs sent as one segmented send, and the datagrams in them.
        self.segmented_sends = 0
        self.segmented_datagrams = 0

    def send(self, sock: socket.socket, datagrams: Sequence[bytes],
             address: Address) -> tuple[int, int]:
        """Send ``datagrams`` in order to ``address``; returns the datagrams and bytes that
        could not be sent (a full buffer, an unreachable network: those are lost, the
        rest go on)."""
        failed = failed_bytes = 0
        for run in runs(datagrams):
            lost = self._send_run(sock, run, address)
            if lost:
                failed += len(lost)
                failed_bytes += sum(map(len, lost))
        return failed, failed_bytes

    def _send_run(self, sock: socket.socket, run: Sequence[bytes],
                  address: Address) -> list[bytes]:
        """Send one run; what could not be sent."""
        if len(run) > 1 and self.enabled and sock.fileno() not in self._refused:
            control = [(SOL_UDP, UDP_SEGMENT, _SEGMENT_SIZE.pack(len(run[0])))]
            try:
                sock.sendmsg(run, control, 0, address)
            except OSError as exc:
                if exc.errno not in _REFUSED:
                    return list(run)
                self._refused.add(sock.fileno())
            else:
                self.segmented_sends += 1
                self.segmented_datagrams += len(run)
                return []
        lost = []
        for data in run:
            try:
                sock.sendto(data, address)
            except OSError:
                lost.append(data)
        return lost

    def forget(self, sock: socket.socket) -> None:
        """``sock`` is being closed (its descriptor may be reused)."""
        self._refused.discard(sock.fileno())
