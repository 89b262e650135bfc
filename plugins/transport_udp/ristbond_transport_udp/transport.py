"""``UdpTransport``: RTP + RTCP sockets per sender link, RTP/RTCP listeners for a receiver.

The transport only moves bytes. Which bytes are RTP or RTCP, malformed or too large is
the engines' business; here socket errors are counted and never stop the stream.

Receiver side, every remote path becomes one link id: RTP from ``ip:p`` and RTCP from
``ip:p+1`` (a sender that binds an even/odd port pair, as ristbond does) are link
``ip:p``; a sender with unpaired ports is one link per source address (``ip``).
RTCP answers go to the address the peer's RTCP came from, out of the listener's RTCP
socket (what librist expects).
"""

from __future__ import annotations

import logging
import selectors
import socket
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from ristbond_core.contracts import Channel, ReceivedDatagram
from ristbond_core.errors import RistbondError
from ristbond_core.runtime.segments import SegmentSender
from ristbond_core.runtime.transport_api import LinkEndpoint, ListenEndpoint, OutgoingDatagram
from ristbond_transport_udp.options import UdpLinkOptions, UdpOptions
from ristbond_transport_udp.sockets import (
    PAIR_ATTEMPTS,
    STAMP_SPACE,
    Address,
    arrival_ns,
    bind,
    bound_port,
    check_interface,
    close_all,
    new_socket,
    realtime_minus_monotonic_ns,
    resolve,
    try_bind,
)

MAX_DATAGRAM = 65_535
#: Receive buffers smaller than this (after the kernel's cap) get a warning: a pass of
#: the loop at a 5 ms wake interval reads ~125 KB per socket at 200 Mbit/s.
SMALL_RCVBUF_BYTES = 1024 * 1024

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _LinkSockets:
    link_id: str
    rtp: socket.socket
    rtcp: socket.socket
    rtp_to: Address
    rtcp_to: Address


@dataclass(frozen=True, slots=True)
class _Source:
    """What a readable socket belongs to: a sender link or a receiver listener."""

    channel: Channel
    link_id: str | None  # None: a listener; the link comes from the source address


def path_link_id(host: str, port: int, channel: Channel) -> str:
    """The receiver-side link id of a remote path (see the module docstring)."""
    shown = f"[{host}]" if ":" in host else host
    if channel is Channel.RTP and port % 2 == 0:
        return f"{shown}:{port}"
    if channel is Channel.RTCP and port % 2 == 1:
        return f"{shown}:{port - 1}"
    return shown


class UdpTransport:
    """Moves RIST datagrams over UDP; implements the runtime's transport protocol."""

    def __init__(self, options: UdpOptions) -> None:
        self.options = options
        self._selector = selectors.DefaultSelector()
        self._links: dict[str, _LinkSockets] = {}
        self._listeners: list[tuple[socket.socket, socket.socket]] = []
        self._sources: dict[int, tuple[socket.socket, _Source]] = {}
        # receiver link id -> (RTCP socket it arrived on, the peer's RTCP address)
        self._return: OrderedDict[str, tuple[socket.socket, Address]] = OrderedDict()
        # (channel, remote address) -> receiver link id: worked out once per path
        self._path_ids: dict[tuple[Channel, Address], str] = {}
        self._closed = False
        self._buffer_checked = False
        self._segments = SegmentSender(enabled=options.gso)
        self.counters = {
            "datagrams_sent": 0, "bytes_sent": 0, "datagrams_received": 0,
            "bytes_received": 0, "send_errors": 0, "receive_errors": 0,
            "no_return_path": 0, "unknown_link": 0,
        }

    # -- sender links -----------------------------------------------------------------

    def open_link(self, endpoint: LinkEndpoint) -> None:
        """Bind the link's RTP/RTCP pair (even/odd where possible) at its source/interface."""
        what = f"link {endpoint.link_id!r}"
        if endpoint.link_id in self._links:
            raise RistbondError(f"{what} is already open")
        try:
            link_options = UdpLinkOptions.model_validate(dict(endpoint.options))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in exc.errors())
            raise RistbondError(f"{what}: bad udp link options: {problems}") from None
        family, rtp_to = resolve(endpoint.host, endpoint.port, what)
        rtcp_to = (rtp_to[0], rtp_to[1] + 1)
        if endpoint.interface is not None:
            check_interface(endpoint.interface, what)
        local = "::" if family == socket.AF_INET6 else "0.0.0.0"
        if endpoint.source is not None:
            source_family, (local, _) = resolve(endpoint.source, 0, what)
            if source_family != family:
                raise RistbondError(
                    f"{what}: source {endpoint.source!r} and destination {endpoint.host!r} "
                    "are of different address families"
                )
        dscp = link_options.dscp if link_options.dscp is not None else self.options.dscp
        rtp, rtcp = self._bind_pair(family, local, endpoint.interface, dscp, what)
        link = _LinkSockets(endpoint.link_id, rtp, rtcp, rtp_to, rtcp_to)
        self._links[endpoint.link_id] = link
        self._register(rtp, _Source(Channel.RTP, endpoint.link_id))
        self._register(rtcp, _Source(Channel.RTCP, endpoint.link_id))

    def _bind_pair(
        self, family: socket.AddressFamily, local: str, interface: str | None, dscp: int,
        what: str,
    ) -> tuple[socket.socket, socket.socket]:
        """An even RTP port with RTCP on the next port, so a receiver can pair them."""

        def make() -> socket.socket:
            return new_socket(family, interface=interface, rcvbuf=self.options.rcvbuf_bytes,
                              sndbuf=self.options.sndbuf_bytes, dscp=dscp, what=what)

        for _ in range(PAIR_ATTEMPTS):
            rtp = make()
            bind(rtp, (local, 0), what)
            port = bound_port(rtp)
            if port % 2 == 0 and port < 65_534:
                rtcp = make()
                if try_bind(rtcp, (local, port + 1)):
                    return rtp, rtcp
                close_all(rtcp)
            close_all(rtp)
        # No pair found (a crowded port range): unpaired ports still work, the receiver
        # then sees this link by source address.
        rtp, rtcp = make(), make()
        try:
            bind(rtp, (local, 0), what)
            bind(rtcp, (local, 0), what)
        except RistbondError:
            close_all(rtp, rtcp)
            raise
        return rtp, rtcp

    def close_link(self, link_id: str) -> None:
        """Close a link's sockets; unknown ids are ignored."""
        link = self._links.pop(link_id, None)
        if link is not None:
            self._unregister(link.rtp)
            self._unregister(link.rtcp)

    def local_ports(self, link_id: str) -> tuple[int, int]:
        """(RTP, RTCP) local ports of a sender link."""
        link = self._links[link_id]
        return bound_port(link.rtp), bound_port(link.rtcp)

    # -- receiver listeners -------------------------------------------------------------

    def listen(self, endpoint: ListenEndpoint) -> None:
        """Bind RTP on ``port`` and RTCP on ``port + 1``."""
        host = endpoint.host or "0.0.0.0"
        what = f"listen rist://@{endpoint.host}:{endpoint.port}"
        if endpoint.options:
            keys = ", ".join(sorted(endpoint.options))
            raise RistbondError(f"{what}: the udp transport takes no listen options "
                                f"(got {keys}); remove the ?parameters")
        family, address = resolve(host.strip("[]"), endpoint.port, what)
        rtp, rtcp = (
            new_socket(family, interface=None, rcvbuf=self.options.rcvbuf_bytes,
                       sndbuf=self.options.sndbuf_bytes, dscp=self.options.dscp, what=what)
            for _ in range(2)
        )
        try:
            bind(rtp, address, what)
            bind(rtcp, (address[0], address[1] + 1), what)
        except RistbondError:
            close_all(rtp, rtcp)
            raise
        self._listeners.append((rtp, rtcp))
        self._register(rtp, _Source(Channel.RTP, None))
        self._register(rtcp, _Source(Channel.RTCP, None))

    # -- the data path ----------------------------------------------------------------

    def filenos(self) -> Sequence[int]:
        """Every open socket's descriptor."""
        return list(self._sources)

    def send(self, link_id: str, channel: Channel, data: bytes) -> None:
        """Send on a sender link's socket, or answer a receiver link's peer (RTCP only)."""
        link = self._links.get(link_id)
        if link is not None:
            if channel is Channel.RTP:
                self._sendto(link.rtp, data, link.rtp_to)
            else:
                self._sendto(link.rtcp, data, link.rtcp_to)
            return
        back = self._return.get(link_id)
        if back is None:
            self.counters["no_return_path" if self._listeners else "unknown_link"] += 1
            return
        self._sendto(back[0], data, back[1])

    def send_batch(self, datagrams: Sequence[OutgoingDatagram]) -> None:
        """Send a pass's datagrams: each sender link's RTP as segmented runs, the rest
        one by one. Order is kept per socket."""
        runs: dict[str, list[bytes]] = {}
        for out in datagrams:
            if out.channel is Channel.RTP and out.link_id in self._links:
                runs.setdefault(out.link_id, []).append(out.data)
            else:
                self.send(out.link_id, out.channel, out.data)
        for link_id, run in runs.items():
            link = self._links[link_id]
            failed, failed_bytes = self._segments.send(link.rtp, run, link.rtp_to)
            self.counters["send_errors"] += failed
            self.counters["datagrams_sent"] += len(run) - failed
            self.counters["bytes_sent"] += sum(map(len, run)) - failed_bytes

    def _sendto(self, sock: socket.socket, data: bytes, address: Address) -> None:
        try:
            sock.sendto(data, address)
        except OSError:
            # A full buffer, an unreachable network, a vanished interface: this datagram
            # is lost (ARQ may recover it); the stream goes on.
            self.counters["send_errors"] += 1
            return
        self.counters["datagrams_sent"] += 1
        self.counters["bytes_sent"] += len(data)

    def receive(self, timeout_s: float) -> Sequence[ReceivedDatagram]:
        """Whatever arrived, waiting up to ``timeout_s``; at most ``recv_batch`` per socket."""
        out: list[ReceivedDatagram] = []
        for key, _ in self._selector.select(max(0.0, timeout_s)):
            sock, source = self._sources[int(key.fd)]
            self._drain(sock, source, out)
        return out

    def _drain(self, sock: socket.socket, source: _Source, out: list[ReceivedDatagram]) -> None:
        """Read what waits on ``sock``, each datagram with its arrival time (the kernel's
        stamp, so a batch read late still times every datagram where it arrived)."""
        read_ns = time.monotonic_ns()
        offset_ns = realtime_minus_monotonic_ns()
        channel = source.channel
        fixed_link = source.link_id
        rtcp_listener = fixed_link is None and channel is Channel.RTCP
        path_ids = self._path_ids
        count = size = 0
        for _ in range(self.options.recv_batch):
            try:
                data, ancdata, _, address = sock.recvmsg(MAX_DATAGRAM, STAMP_SPACE)
            except BlockingIOError:
                break
            except OSError:
                # An ICMP error queued on the socket (port unreachable, ...): count, go on.
                self.counters["receive_errors"] += 1
                continue
            peer: Address = address if len(address) == 2 else (address[0], address[1])
            link_id = fixed_link
            if link_id is None:
                link_id = path_ids.get((channel, peer))
                if link_id is None:
                    link_id = self._new_path(channel, peer)
                if rtcp_listener:
                    self._remember_return(link_id, sock, peer)
            count += 1
            size += len(data)
            out.append(ReceivedDatagram(link_id, channel, data, peer,
                                        arrival_ns(ancdata, offset_ns, read_ns)))
        self.counters["datagrams_received"] += count
        self.counters["bytes_received"] += size

    def _new_path(self, channel: Channel, peer: Address) -> str:
        """The link id of a remote path not seen lately (remembered, within bounds)."""
        if len(self._path_ids) >= 4 * self.options.max_peers:
            self._path_ids.clear()
        link_id = path_link_id(str(peer[0]), int(peer[1]), channel)
        self._path_ids[(channel, peer)] = link_id
        return link_id

    def _remember_return(self, link_id: str, sock: socket.socket, address: Address) -> None:
        self._return[link_id] = (sock, address)
        self._return.move_to_end(link_id)
        while len(self._return) > self.options.max_peers:
            self._return.popitem(last=False)

    def stats(self) -> dict[str, int]:
        """Cumulative counters (a copy)."""
        return {**self.counters, "segmented_sends": self._segments.segmented_sends,
                "segmented_datagrams": self._segments.segmented_datagrams}

    # -- lifetime -----------------------------------------------------------------------

    def _register(self, sock: socket.socket, source: _Source) -> None:
        if source.channel is Channel.RTP and not self._buffer_checked:
            self._buffer_checked = True
            self._check_receive_buffer(sock)
        self._sources[sock.fileno()] = (sock, source)
        self._selector.register(sock, selectors.EVENT_READ)

    def _check_receive_buffer(self, sock: socket.socket) -> None:
        """Say so once when the kernel capped the receive buffer well below the request."""
        wanted = self.options.rcvbuf_bytes
        if wanted is None or wanted < SMALL_RCVBUF_BYTES:
            return
        granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2  # Linux doubles
        if granted < SMALL_RCVBUF_BYTES:
            log.warning(
                "udp: the kernel grants %d KiB of the %d KiB receive buffer asked for; "
                "above ~50 Mbit/s datagrams may be dropped in bursts: raise it with "
                "`sysctl -w net.core.rmem_max=%d` or set a smaller wake_interval_ms",
                granted // 1024, wanted // 1024, wanted)

    def _unregister(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        if fd >= 0 and fd in self._sources:
            del self._sources[fd]
            self._selector.unregister(sock)
        self._segments.forget(sock)
        close_all(sock)

    def close(self) -> None:
        """Close every socket (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for link_id in list(self._links):
            self.close_link(link_id)
        for rtp, rtcp in self._listeners:
            self._unregister(rtp)
            self._unregister(rtcp)
        self._listeners.clear()
        self._return.clear()
        self._selector.close()


def make_udp_transport(options: UdpOptions) -> UdpTransport:
    """Factory registered under the name ``udp``."""
    return UdpTransport(options)
