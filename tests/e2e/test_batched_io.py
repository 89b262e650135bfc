"""Batched socket I/O: kernel arrival stamps, segmented sends, wake-up spacing."""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from ristbond_transport_udp import UdpOptions, UdpTransport

from ristbond_core.config.models import ReceiverConfig, SenderConfig
from ristbond_core.contracts import Channel, ReceivedDatagram
from ristbond_core.engine.common import NS_PER_MS, OutDatagram
from ristbond_core.runtime.clock import WakeSpacing, arrival_order, now_ns, wake_interval_ms
from ristbond_core.runtime.outputs import UdpOutput
from ristbond_core.runtime.segments import (
    MAX_SEGMENTS,
    SOL_UDP,
    UDP_SEGMENT,
    SegmentSender,
    runs,
)
from ristbond_core.runtime.transport_api import LinkEndpoint, ListenEndpoint
from ristbond_core.runtime.urls import parse_stream_url
from tests.e2e.conftest import free_even_port

pytestmark = pytest.mark.e2e


def kernel_segments() -> bool:
    """Whether this kernel takes UDP_SEGMENT at all."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.setsockopt(SOL_UDP, UDP_SEGMENT, 1200)
        except OSError:
            return False
    return True


@pytest.fixture
def sink() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    try:
        yield sock
    finally:
        sock.close()


def drain(sock: socket.socket, count: int) -> list[bytes]:
    return [sock.recv(65_535) for _ in range(count)]


# -- runs -------------------------------------------------------------------------------


def sizes(datagrams: list[bytes]) -> list[list[int]]:
    return [[len(d) for d in run] for run in runs(datagrams)]


def test_equal_datagrams_form_runs_of_at_most_the_kernels_segment_count() -> None:
    assert sizes([b"x" * 500] * 70) == [[500] * MAX_SEGMENTS, [500] * 6]
    assert sizes([b"x" * 1328] * 50) == [[1328] * 49, [1328]]  # 49 fill one IP payload


def test_a_shorter_datagram_closes_a_run_and_a_longer_one_starts_the_next() -> None:
    data = [b"x" * 1328, b"x" * 1328, b"x" * 100, b"x" * 1328, b"x" * 200, b"x" * 1400]
    assert sizes(data) == [[1328, 1328, 100], [1328, 200], [1400]]


def test_a_run_stays_within_one_ip_payload() -> None:
    assert sizes([b"x" * 9000] * 9) == [[9000] * 7, [9000] * 2]


# -- segmented sends --------------------------------------------------------------------


@pytest.mark.skipif(not kernel_segments(), reason="this kernel has no UDP GSO (UDP_SEGMENT)")
def test_a_run_leaves_as_one_send_and_arrives_as_the_same_datagrams(
    sink: socket.socket,
) -> None:
    sender = SegmentSender()
    data = [bytes([i]) * 1328 for i in range(10)] + [b"t" * 500]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        assert sender.send(sock, data, sink.getsockname()) == (0, 0)
    assert sender.segmented_sends == 1
    assert sender.segmented_datagrams == 11
    assert drain(sink, 11) == data


class RefusingSocket:
    """A socket whose kernel refuses segmentation (as an old kernel or a device would)."""

    def __init__(self, real: socket.socket) -> None:
        self.real = real
        self.sendmsg_calls = 0

    def fileno(self) -> int:
        return self.real.fileno()

    def sendmsg(self, *_args: object) -> int:
        self.sendmsg_calls += 1
        raise OSError(errno.EIO, "segmentation refused")

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        return self.real.sendto(data, address)


def test_a_refused_segmented_send_falls_back_to_single_sends_for_good(
    sink: socket.socket,
) -> None:
    sender = SegmentSender()
    data = [bytes([i]) * 1328 for i in range(4)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as real:
        refusing = RefusingSocket(real)
        for _ in range(2):
            assert sender.send(refusing, data, sink.getsockname()) == (0, 0)  # type: ignore[arg-type]
    assert refusing.sendmsg_calls == 1
    assert sender.segmented_sends == 0
    assert drain(sink, 8) == data + data


def test_the_udp_transport_sends_a_links_batch_in_order(sink: socket.socket) -> None:
    port = sink.getsockname()[1]
    transport = UdpTransport(UdpOptions())
    try:
        transport.open_link(LinkEndpoint("a", "127.0.0.1", port))
        data = [bytes([i]) * 1328 for i in range(8)]
        transport.send_batch([OutDatagram("a", Channel.RTP, d) for d in data])
        assert drain(sink, 8) == data
        stats = transport.stats()
        assert stats["datagrams_sent"] == 8
        assert stats["bytes_sent"] == 8 * 1328
        assert stats["segmented_datagrams"] == (8 if kernel_segments() else 0)
    finally:
        transport.close()


def test_gso_off_sends_one_datagram_per_call(sink: socket.socket) -> None:
    transport = UdpTransport(UdpOptions(gso=False))
    try:
        transport.open_link(LinkEndpoint("a", "127.0.0.1", sink.getsockname()[1]))
        data = [bytes([i]) * 1328 for i in range(5)]
        transport.send_batch([OutDatagram("a", Channel.RTP, d) for d in data])
        assert drain(sink, 5) == data
        assert transport.stats()["segmented_sends"] == 0
    finally:
        transport.close()


def test_the_udp_output_sends_what_was_released_together_on_flush(sink: socket.socket) -> None:
    host, port = sink.getsockname()
    output = UdpOutput(parse_stream_url(f"udp://{host}:{port}", "output"))
    sink.settimeout(0.2)
    try:
        data = [bytes([i]) * 1316 for i in range(7)]
        for payload in data:
            output.write(payload)
        with pytest.raises(TimeoutError):
            sink.recv(65_535)  # nothing leaves before the flush
        sink.settimeout(2.0)
        output.flush()
        assert drain(sink, 7) == data
        assert output.errors == 0
    finally:
        output.close()


# -- arrival stamps ---------------------------------------------------------------------


def test_a_datagram_read_late_carries_the_time_it_arrived() -> None:
    port = free_even_port(set())
    transport = UdpTransport(UdpOptions())
    try:
        transport.listen(ListenEndpoint("127.0.0.1", port))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            # Linux turns arrival stamping on for the whole system only a moment after
            # the first socket asks (and off again after the last one closed): until
            # then the stamp is the read time. Wait until a datagram comes back stamped.
            _await_kernel_stamps(transport, peer, port)
            sent_ns = now_ns()
            peer.sendto(b"\x80" + bytes(40), ("127.0.0.1", port))
            time.sleep(0.15)
        got: list[ReceivedDatagram] = []
        deadline = time.monotonic() + 2.0
        while not got and time.monotonic() < deadline:
            got.extend(transport.receive(0.05))
        read_ns = now_ns()
        assert len(got) == 1
        # Stamped on arrival (right after the send), not when read 150 ms later.
        assert sent_ns - 5 * NS_PER_MS <= got[0].received_ns <= sent_ns + 50 * NS_PER_MS
        assert read_ns - got[0].received_ns >= 100 * NS_PER_MS
    finally:
        transport.close()


def _await_kernel_stamps(transport: UdpTransport, peer: socket.socket, port: int) -> None:
    """Send probes until one is stamped before it was read (at most about a second)."""
    for _ in range(50):
        peer.sendto(b"\x80" + bytes(40), ("127.0.0.1", port))
        time.sleep(0.02)
        got = transport.receive(0.05)
        if got and now_ns() - got[-1].received_ns >= 10 * NS_PER_MS:
            return
    pytest.fail("the kernel never stamped a datagram on arrival (SO_TIMESTAMPNS)")


def received(link_id: str, at_ns: int) -> ReceivedDatagram:
    return ReceivedDatagram(link_id, Channel.RTP, link_id.encode(), ("127.0.0.1", 1), at_ns)


def test_a_pass_feeds_datagrams_in_arrival_order_within_its_time_span() -> None:
    batch = [received("a1", 150), received("a2", 400), received("b1", 120),
             received("b2", 90), received("b3", 700)]
    ordered = arrival_order(batch, floor_ns=100, now=500)
    assert [(d.link_id, at) for d, at in ordered] == [
        ("b2", 100),  # before the engine's last time: moved up to it
        ("b1", 120), ("a1", 150), ("a2", 400),
        ("b3", 500),  # after the pass's own now: moved back to it
    ]


# -- wake-up spacing --------------------------------------------------------------------


def test_wake_ups_are_spaced_by_the_interval() -> None:
    spacing = WakeSpacing(30 * NS_PER_MS)
    first = now_ns()
    assert spacing.settle(first) == first  # nothing to wait for yet
    spacing.woke(first)
    assert spacing.settle(now_ns()) - first >= 30 * NS_PER_MS
    later = first + 31 * NS_PER_MS
    assert spacing.settle(later) == later  # the interval is already over


def test_a_zero_interval_never_waits() -> None:
    spacing = WakeSpacing(0)
    spacing.woke(now_ns())
    before = now_ns()
    assert spacing.settle(before) == before


def test_the_wake_interval_follows_the_latency_unless_set() -> None:
    assert wake_interval_ms(None, 1000) == 5.0
    assert wake_interval_ms(None, 100) == 0.5
    assert wake_interval_ms(None, 30_000) == 5.0  # capped
    assert wake_interval_ms(0.0, 1000) == 0.0
    assert wake_interval_ms(2.5, 100) == 2.5


def test_a_bad_wake_interval_names_the_key() -> None:
    with pytest.raises(ValidationError, match="wake_interval_ms"):
        SenderConfig.model_validate({"wake_interval_ms": -1})
    with pytest.raises(ValidationError, match="wake_interval_ms"):
        ReceiverConfig.model_validate({"wake_interval_ms": 100})


def test_a_receive_buffer_capped_by_the_kernel_is_reported_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    import ristbond_transport_udp.transport as udp_module

    # More than any kernel grants by default, so the cap always shows.
    monkeypatch.setattr(udp_module, "SMALL_RCVBUF_BYTES", 128 * 1024 * 1024)
    transport = UdpTransport(UdpOptions(rcvbuf_bytes=256 * 1024 * 1024))
    try:
        with caplog.at_level(logging.WARNING, logger="ristbond_transport_udp.transport"):
            transport.open_link(LinkEndpoint("a", "127.0.0.1", 22000))
            transport.open_link(LinkEndpoint("b", "127.0.0.1", 22002))
        warnings = [r.getMessage() for r in caplog.records]
        assert len(warnings) == 1
        assert "net.core.rmem_max" in warnings[0]
    finally:
        transport.close()
