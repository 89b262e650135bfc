"""The ``udp`` transport on real loopback sockets: binding, path mapping, return path."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest
from ristbond_transport_udp import UdpOptions, UdpTransport
from ristbond_transport_udp.transport import path_link_id

from ristbond_core.contracts import Channel, ReceivedDatagram
from ristbond_core.errors import ConfigError, RistbondError
from ristbond_core.plugins import PluginHost
from ristbond_core.runtime.transport_api import LinkEndpoint, ListenEndpoint, RuntimeTransport
from tests.e2e.conftest import free_even_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def transport() -> Iterator[UdpTransport]:
    udp = UdpTransport(UdpOptions())
    try:
        yield udp
    finally:
        udp.close()


def collect(transport: UdpTransport, count: int, timeout_s: float = 5.0) -> list[ReceivedDatagram]:
    """Receive until ``count`` datagrams arrived or the time is up."""
    got: list[ReceivedDatagram] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < count and time.monotonic() < deadline:
        got.extend(transport.receive(0.05))
    return got


def test_udp_is_registered_and_drivable_by_the_runtime() -> None:
    backend = PluginHost.discover().transports.get("udp")
    assert backend is not None
    assert isinstance(backend.factory(UdpOptions()), RuntimeTransport)


def test_unknown_transport_options_are_rejected() -> None:
    host = PluginHost.discover()
    with pytest.raises(ConfigError, match="rcvbuf"):
        host.validate_options("transport", "udp", {"rcvbuf": 1}, "transport.name",
                              "transport.options")


def test_a_sender_link_binds_an_even_rtp_port_with_rtcp_on_the_next(
    transport: UdpTransport,
) -> None:
    transport.open_link(LinkEndpoint("a", "127.0.0.1", 22000))
    rtp, rtcp = transport.local_ports("a")
    assert rtp % 2 == 0
    assert rtcp == rtp + 1


def test_rtp_and_rtcp_of_a_paired_sender_are_one_receiver_link() -> None:
    port = free_even_port(set())
    sender, receiver = UdpTransport(UdpOptions()), UdpTransport(UdpOptions())
    try:
        receiver.listen(ListenEndpoint("127.0.0.1", port))
        sender.open_link(LinkEndpoint("a", "127.0.0.1", port, source="127.0.0.1"))
        sender.send("a", Channel.RTCP, b"rtcp")
        sender.send("a", Channel.RTP, b"rtp")
        got = collect(receiver, 2)
        rtp_port, _ = sender.local_ports("a")
        assert {(d.link_id, d.channel, d.data) for d in got} == {
            (f"127.0.0.1:{rtp_port}", Channel.RTCP, b"rtcp"),
            (f"127.0.0.1:{rtp_port}", Channel.RTP, b"rtp"),
        }
        # The answer goes back to where the sender's RTCP came from.
        receiver.send(f"127.0.0.1:{rtp_port}", Channel.RTCP, b"answer")
        back = collect(sender, 1)
        assert [(d.link_id, d.channel, d.data) for d in back] == [("a", Channel.RTCP, b"answer")]
    finally:
        sender.close()
        receiver.close()


def test_unpaired_ports_make_one_link_per_source_address() -> None:
    assert path_link_id("192.0.2.1", 40001, Channel.RTP) == "192.0.2.1"
    assert path_link_id("192.0.2.1", 40000, Channel.RTCP) == "192.0.2.1"
    assert path_link_id("192.0.2.1", 40000, Channel.RTP) == "192.0.2.1:40000"
    assert path_link_id("192.0.2.1", 40001, Channel.RTCP) == "192.0.2.1:40000"
    assert path_link_id("2001:db8::1", 40000, Channel.RTP) == "[2001:db8::1]:40000"


def test_a_receiver_without_the_peers_rtcp_address_counts_instead_of_sending(
    transport: UdpTransport,
) -> None:
    transport.listen(ListenEndpoint("127.0.0.1", free_even_port(set())))
    transport.send("198.51.100.7:5000", Channel.RTCP, b"x")
    assert transport.stats()["no_return_path"] == 1


def test_a_missing_interface_is_an_error_naming_link_and_interface(
    transport: UdpTransport,
) -> None:
    with pytest.raises(RistbondError, match=r"link 'lte'.*'nosuch0'"):
        transport.open_link(LinkEndpoint("lte", "127.0.0.1", 22000, interface="nosuch0"))
    assert transport.filenos() == []


def test_binding_to_the_loopback_device_works_or_says_why(transport: UdpTransport) -> None:
    endpoint = LinkEndpoint("lo-link", "127.0.0.1", 22000, interface="lo")
    if os.geteuid() != 0:
        with pytest.raises(RistbondError, match=r"link 'lo-link'.*'lo'"):
            transport.open_link(endpoint)
        return
    transport.open_link(endpoint)
    assert len(transport.filenos()) == 2


def test_a_source_address_is_bound(transport: UdpTransport) -> None:
    transport.open_link(LinkEndpoint("a", "127.0.0.1", 22000, source="127.0.0.1"))
    link = transport._links["a"]
    assert link.rtp.getsockname()[0] == "127.0.0.1"


def test_listening_on_a_busy_port_names_the_listen_url(transport: UdpTransport) -> None:
    port = free_even_port(set())
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", port))
    try:
        with pytest.raises(RistbondError, match=f"rist://@127.0.0.1:{port}"):
            transport.listen(ListenEndpoint("127.0.0.1", port))
    finally:
        blocker.close()


def test_one_receive_reads_at_most_recv_batch_per_socket() -> None:
    port = free_even_port(set())
    receiver = UdpTransport(UdpOptions(recv_batch=2))
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.listen(ListenEndpoint("127.0.0.1", port))
        for i in range(5):
            peer.sendto(bytes([i]), ("127.0.0.1", port))
        time.sleep(0.1)
        assert len(receiver.receive(1.0)) == 2
        assert len(collect(receiver, 3)) == 3
    finally:
        peer.close()
        receiver.close()


def test_closing_a_link_releases_its_sockets(transport: UdpTransport) -> None:
    transport.open_link(LinkEndpoint("a", "127.0.0.1", 22000))
    transport.open_link(LinkEndpoint("b", "127.0.0.1", 22000))
    transport.close_link("a")
    assert len(transport.filenos()) == 2
    transport.send("a", Channel.RTP, b"x")
    assert transport.stats()["unknown_link"] == 1


def test_a_failed_send_is_counted_and_the_stream_goes_on(transport: UdpTransport) -> None:
    transport.open_link(LinkEndpoint("a", "127.0.0.1", 22000))
    transport.send("a", Channel.RTP, bytes(70_000))  # larger than any UDP datagram
    transport.send("a", Channel.RTP, b"fits")
    counters = transport.stats()
    assert counters["send_errors"] == 1
    assert counters["datagrams_sent"] == 1
