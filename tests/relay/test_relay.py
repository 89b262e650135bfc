"""The relay in-process on 127.0.0.1, measured with a plain UDP sender and receiver.

The machine is shared and noisy: bounds are generous and one-sided where scheduling
can only make things later, and nothing asserts speed.
"""

from __future__ import annotations

import math
import socket
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ristbond_core.relay.relay import Relay
from ristbond_core.relay.spec import LinkSpec, model_from
from tests.relay.udp_tools import HOST, Collector, bound_socket, free_port_pair, send_paced

pytestmark = pytest.mark.e2e


@dataclass
class Rig:
    """A relay with one link, a sender socket pair and a receiver socket pair."""

    relay: Relay
    listen: int
    sender_rtp: socket.socket
    sender_rtcp: socket.socket
    receiver_rtp: socket.socket
    receiver_rtcp: socket.socket


def make_relay(forward: dict[str, object], reverse: dict[str, object] | None = None,
               seed: int = 7, **kwargs: int) -> tuple[Relay, int, int]:
    taken: set[int] = set()
    listen, target = free_port_pair(taken), free_port_pair(taken)
    forward_model = model_from(forward, "")
    spec = LinkSpec(
        name="link0",
        listen=(HOST, listen),
        forward=(HOST, target),
        forward_model=forward_model,
        reverse_model=model_from(reverse or {}, "", base=forward_model),
    )
    return Relay([spec], seed=seed, **kwargs), listen, target


@pytest.fixture
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    forward, reverse = request.param
    relay, listen, target = make_relay(forward, reverse)
    sockets = [bound_socket(), bound_socket(), bound_socket(target), bound_socket(target + 1)]
    relay.start()
    try:
        yield Rig(relay, listen, *sockets)
    finally:
        relay.stop()
        for sock in sockets:
            sock.close()


def params(forward: dict[str, object], reverse: dict[str, object] | None = None) -> object:
    return pytest.param((forward, reverse), id=",".join(f"{k}={v}" for k, v in forward.items()))


@pytest.mark.parametrize("rig", [params({"delay": "60ms"})], indirect=True)
def test_delay_added_is_close_to_the_configured_delay(rig: Rig) -> None:
    collector = Collector(rig.receiver_rtp).start()
    send_paced(rig.sender_rtp, (HOST, rig.listen), 200, 200, interval_s=0.005)
    arrivals = collector.wait()
    delays = [a.delay_ms for a in arrivals]
    assert len(delays) == 200
    assert min(delays) >= 59.0  # never early
    assert statistics.median(delays) <= 60.0 + 25.0  # late only by scheduling noise


@pytest.mark.parametrize("rig", [params({"delay": "20ms", "jitter": "40ms"})], indirect=True)
def test_jitter_spreads_delay_within_its_range(rig: Rig) -> None:
    collector = Collector(rig.receiver_rtp).start()
    send_paced(rig.sender_rtp, (HOST, rig.listen), 300, 200, interval_s=0.003)
    arrivals = collector.wait()
    delays = [a.delay_ms for a in arrivals]
    assert len(delays) == 300
    assert min(delays) >= 19.0
    assert statistics.quantiles(delays, n=10)[-1] - min(delays) > 10.0
    # Jitter keeps the order by default.
    assert [a.seq for a in arrivals] == sorted(a.seq for a in arrivals)


def binomial_bounds(n: int, p: float, sigmas: float = 5.0) -> tuple[float, float]:
    spread = sigmas * math.sqrt(n * p * (1 - p))
    return n * p - spread, n * p + spread


@pytest.mark.parametrize("rig", [params({"loss": "10%"})], indirect=True)
def test_loss_rate_matches_the_configured_loss(rig: Rig) -> None:
    sent = 4000
    collector = Collector(rig.receiver_rtp).start()
    send_paced(rig.sender_rtp, (HOST, rig.listen), sent, 200, interval_s=0)
    arrivals = collector.wait()
    lost = sent - len(arrivals)
    low, high = binomial_bounds(sent, 0.10)
    assert low <= lost <= high
    counters = rig.relay.stats()["links"][0]["forward"]
    assert counters["received"] == sent
    assert counters["dropped_loss"] == lost  # the relay dropped them, not the OS


def test_same_seed_drops_the_same_datagrams() -> None:
    def dropped_seqs() -> list[int]:
        relay, listen, target = make_relay({"loss": "20%"}, seed=3)
        sender, receiver = bound_socket(), bound_socket(target)
        try:
            with relay:
                collector = Collector(receiver).start()
                send_paced(sender, (HOST, listen), 500, 100, interval_s=0)
                arrivals = collector.wait()
        finally:
            sender.close()
            receiver.close()
        return sorted(set(range(500)) - {a.seq for a in arrivals})

    assert dropped_seqs() == dropped_seqs()


@pytest.mark.parametrize("rig", [params({"rate": "1mbit", "queue": 20})], indirect=True)
def test_rate_limit_caps_throughput_and_drops_at_the_queue(rig: Rig) -> None:
    # ~4 Mbit/s offered for about a second into a 1 Mbit/s path.
    collector = Collector(rig.receiver_rtp).start()
    send_paced(rig.sender_rtp, (HOST, rig.listen), 500, 1000, interval_s=0.002)
    arrivals = collector.wait()
    span_s = (arrivals[-1].arrival_ns - arrivals[0].arrival_ns) / 1e9
    throughput_bps = sum(a.size for a in arrivals[1:]) * 8 / span_s
    assert throughput_bps <= 1.15e6
    assert rig.relay.stats()["links"][0]["forward"]["dropped_queue"] > 100


@pytest.mark.parametrize("rig", [params({"delay": "5ms"})], indirect=True)
def test_outage_drops_everything_then_traffic_recovers(rig: Rig) -> None:
    link = rig.relay.link("link0")
    destination = (HOST, rig.listen)
    link.set_up(False)
    collector = Collector(rig.receiver_rtp).start(quiet_s=0.3)
    send_paced(rig.sender_rtp, destination, 100, 200, interval_s=0.001)
    during = collector.wait()
    assert during == []
    link.set_up(True)
    collector = Collector(rig.receiver_rtp).start()
    send_paced(rig.sender_rtp, destination, 100, 200, interval_s=0.001)
    after = collector.wait()
    assert len(after) == 100
    counters = rig.relay.stats()["links"][0]["forward"]
    assert (counters["dropped_outage"], counters["forwarded"]) == (100, 100)


@pytest.mark.parametrize("rig", [params({"delay": "10ms"}, {"delay": "80ms"})], indirect=True)
def test_reverse_traffic_reaches_the_original_source_with_its_own_delay(rig: Rig) -> None:
    # The sender talks RTP and RTCP through the relay; the receiver answers each to the
    # address it came from (the relay), and the relay must return it to the sender.
    rig.sender_rtp.sendto(b"rtp-hello", (HOST, rig.listen))
    rig.sender_rtcp.sendto(b"rtcp-hello", (HOST, rig.listen + 1))
    for receiver, sender, port in ((rig.receiver_rtp, rig.sender_rtp, rig.listen),
                                   (rig.receiver_rtcp, rig.sender_rtcp, rig.listen + 1)):
        receiver.settimeout(5.0)
        data, relay_side = receiver.recvfrom(2048)
        started = time.monotonic()
        receiver.sendto(b"answer:" + data, relay_side)
        sender.settimeout(5.0)
        answer, source = sender.recvfrom(2048)
        elapsed_ms = (time.monotonic() - started) * 1000
        assert answer == b"answer:" + data
        assert source == (HOST, port)  # it comes back from the port the sender used
        assert elapsed_ms >= 79.0
    # The relay's outgoing pair is even/odd, as RIST peers expect.
    out_rtp = rig.relay.link("link0").out_rtp.getsockname()[1]
    assert out_rtp % 2 == 0
    assert rig.relay.link("link0").out_rtcp.getsockname()[1] == out_rtp + 1


@pytest.mark.parametrize("rig", [params({"delay": "1ms"})], indirect=True)
def test_reverse_traffic_before_any_sender_is_counted_and_dropped(rig: Rig) -> None:
    out_port = rig.relay.link("link0").out_rtcp.getsockname()[1]
    rig.receiver_rtcp.sendto(b"nobody-yet", (HOST, out_port))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if rig.relay.stats()["links"][0]["reverse"]["dropped_no_peer"] == 1:
            break
        time.sleep(0.01)
    assert rig.relay.stats()["links"][0]["reverse"]["dropped_no_peer"] == 1


@pytest.mark.parametrize("rig", [params({"delay": "1ms"})], indirect=True)
def test_model_changes_while_running_apply_to_later_datagrams(rig: Rig) -> None:
    link = rig.relay.link("link0")
    link.update("forward", delay="70ms")
    collector = Collector(rig.receiver_rtp).start()
    send_paced(rig.sender_rtp, (HOST, rig.listen), 20, 100, interval_s=0.005)
    delays = [a.delay_ms for a in collector.wait()]
    assert len(delays) == 20
    assert min(delays) >= 69.0
    assert link.reverse.model.delay_ms == 1.0


def test_datagrams_in_flight_are_bounded() -> None:
    relay, listen, target = make_relay({"delay": "300ms"}, max_pending=50)
    sender, receiver = bound_socket(), bound_socket(target)
    try:
        with relay:
            collector = Collector(receiver).start()
            send_paced(sender, (HOST, listen), 200, 100, interval_s=0)
            arrivals = collector.wait()
            counters = relay.stats()["links"][0]["forward"]
    finally:
        sender.close()
        receiver.close()
    assert len(arrivals) == 50
    assert counters["dropped_overflow"] == 150


def test_several_links_relay_independently() -> None:
    taken: set[int] = set()
    specs, receivers, listens = [], [], []
    for index, delay in enumerate(("5ms", "50ms")):
        listen, target = free_port_pair(taken), free_port_pair(taken)
        model = model_from({"delay": delay}, "")
        specs.append(LinkSpec(f"l{index}", (HOST, listen), (HOST, target), model,
                              model_from({}, "", base=model)))
        receivers.append(bound_socket(target))
        listens.append(listen)
    sender = bound_socket()
    try:
        with Relay(specs, seed=1):
            collectors = [Collector(r).start() for r in receivers]
            for listen in listens:
                send_paced(sender, (HOST, listen), 30, 100, interval_s=0.002)
            fast, slow = (c.wait() for c in collectors)
    finally:
        sender.close()
        for sock in receivers:
            sock.close()
    assert len(fast) == len(slow) == 30
    assert min(a.delay_ms for a in slow) >= 49.0
    assert statistics.median(a.delay_ms for a in fast) < 40.0
