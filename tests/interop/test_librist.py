"""ristbond against librist's command-line peers, simple profile, bonded, with ARQ at work.

The clean two-link runs in both directions live in ``tests/e2e/test_librist_peers.py``;
here the links go through the relay and one of them loses packets, so librist's range
NACKs must be answered by ``ristbond send``, and ``ristbond receive``'s NACKs by
``ristsender``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

from ristbond_core.relay import Relay
from tests.conftest import require_program
from tests.interop.peers import (
    HOST,
    Ports,
    UdpCollector,
    assert_whole_from_first,
    dropped_by_loss,
    feed_testsrc,
    process_group,
    read_snapshots,
    relay_link,
    ristbond_argv,
    wait_bound,
)

pytestmark = [pytest.mark.e2e, pytest.mark.interop]

LATENCY_MS = 500
SEND_SECONDS = 4.0
# librist drops the first 1–3 packets of a session while it shakes hands; at 3 Mbit/s a
# slow start on a busy machine can cost a few more.
LIBRIST_HEAD_LOSS = 10


@dataclass
class SendRun:
    """``ristbond send`` (2 relayed links) → ``ristreceiver -p 0``: what came out."""

    received: bytes
    sent_chunks: int
    sender: dict[str, Any]  # last stats snapshot
    snapshots: list[dict[str, Any]]
    dropped: int  # media datagrams the relay dropped on the lossy link


@pytest.fixture(scope="module", params=["clean", "lossy"])
def send_run(request: pytest.FixtureRequest, ports: Ports,
             tmp_path_factory: pytest.TempPathFactory) -> SendRun:
    program = require_program("ristreceiver", "rist-tools")
    loss = "5%" if request.param == "lossy" else "0"
    workdir = tmp_path_factory.mktemp(f"send-{request.param}")
    rist, out, hop_a, hop_b = ports.pair(), ports.pair(), ports.pair(), ports.pair()
    stats = workdir / "send-stats.jsonl"
    collector = UdpCollector(out)
    links = [relay_link("a", hop_a, rist), relay_link("b", hop_b, rist, loss=loss)]
    try:
        with process_group(workdir) as group, Relay(links, seed=11) as running:
            peer = group.start("ristreceiver", [
                program, "-p", "0", "-b", str(LATENCY_MS),
                "-i", f"rist://@{HOST}:{rist}", "-o", f"udp://{HOST}:{out}"])
            wait_bound(rist, peer.popen, peer.log)
            sender = group.start("send", ristbond_argv(
                "send", "--input", "testsrc://?bitrate=3000",
                "--link", f"rist://{HOST}:{hop_a}", "--link", f"rist://{HOST}:{hop_b}",
                "--latency-ms", str(LATENCY_MS), "--duration", str(SEND_SECONDS),
                "--stats-json", str(stats), "--stats-interval-ms", "500"))
            assert group.wait(sender, 30) == 0, sender.text()
            time.sleep(LATENCY_MS / 1000 + 0.7)  # ristreceiver holds one buffer's worth
            group.stop(peer)
            dropped = dropped_by_loss(running, "b")
    finally:
        received = collector.close()
    snapshots = read_snapshots(stats)
    assert snapshots, f"no sender stats in {stats}"
    return SendRun(received, int(snapshots[-1]["flow"]["input_datagrams"]), snapshots[-1],
                  snapshots, dropped)


@pytest.mark.parametrize("send_run", ["lossy"], indirect=True)
def test_range_nacks_from_ristreceiver_are_answered(send_run: SendRun) -> None:
    assert send_run.dropped > 0
    flow = send_run.sender["flow"]
    assert flow["nacks_received"] > 0, flow
    assert flow["retransmitted"] > 0, flow
    assert sum(link["retransmitted"] for link in send_run.sender["links"]) > 0


def test_ristreceiver_output_is_the_sent_stream_after_its_handshake(send_run: SendRun) -> None:
    assert_whole_from_first(send_run.received, send_run.sent_chunks, LIBRIST_HEAD_LOSS)


def test_ristreceiver_gives_no_per_link_delivery_rate(send_run: SendRun) -> None:
    """librist sends no RBLR link reports: no delivery rate, a capacity only by fallback.

    The capacity estimate can still appear from the delay-gradient fallback, which
    librist's RTT echo answers feed; it is never report-based, so it equals neither a
    delivery rate nor anything the peer measured.
    """
    for snapshot in send_run.snapshots:
        for link in snapshot["links"]:
            assert link["delivery_rate_bps"] is None, link
    rtts = [link["rtt_ms"] for link in send_run.sender["links"]]
    assert all(rtt is not None for rtt in rtts), rtts  # librist answers our echo requests


@dataclass
class ReceiveRun:
    """``ristsender -p 0`` (weights 0 and 5, relayed, one lossy) → ``ristbond receive``."""

    output: bytes
    fed_chunks: int
    receiver: dict[str, Any]
    final_line: str


FED_CHUNKS = 750  # 3 s at one chunk per 4 ms


@pytest.fixture(scope="module")
def receive_run(ports: Ports, tmp_path_factory: pytest.TempPathFactory) -> ReceiveRun:
    program = require_program("ristsender", "rist-tools")
    workdir = tmp_path_factory.mktemp("receive")
    rist, feed, hop_a, hop_b = ports.pair(), ports.pair(), ports.pair(), ports.pair()
    output, stats = workdir / "out.ts", workdir / "receive-stats.jsonl"
    # weight=0 puts every packet on link a; weight=5 makes ristsender leave about one
    # packet in six off link b. A packet that is both lost on a and left off b arrives
    # only when our NACK asks ristsender for it.
    links = [relay_link("a", hop_a, rist, loss="15%"), relay_link("b", hop_b, rist)]
    with process_group(workdir) as group, Relay(links, seed=5):
        receiver = group.start("receive", ristbond_argv(
            "receive", "--listen", f"rist://@{HOST}:{rist}", "--output", f"file://{output}",
            "--latency-ms", str(LATENCY_MS), "--duration", "30",
            "--stats-json", str(stats), "--stats-interval-ms", "500"))
        wait_bound(rist, receiver.popen, receiver.log)
        peer = group.start("ristsender", [
            program, "-p", "0", "-i", f"udp://@{HOST}:{feed}",
            "-o", f"rist://{HOST}:{hop_a}?weight=0,rist://{HOST}:{hop_b}?weight=5"])
        wait_bound(feed, peer.popen, peer.log)
        feeder = threading.Thread(target=feed_testsrc, args=(feed, FED_CHUNKS), daemon=True)
        feeder.start()
        feeder.join(30)
        time.sleep(1.0)  # the last NACK round trips
        group.stop(peer)
        group.stop(receiver)
        assert receiver.popen.returncode == 0, receiver.text()
        final_line = receiver.text()
    snapshots = read_snapshots(stats)
    assert snapshots, final_line
    return ReceiveRun(output.read_bytes() if output.exists() else b"", FED_CHUNKS,
                      snapshots[-1], final_line)


def test_ristsender_answers_our_range_nacks(receive_run: ReceiveRun) -> None:
    flow = receive_run.receiver["flow"]
    assert flow["nacks_sent"] > 0, flow
    assert flow["recovered"] > 0, flow
    assert flow["retransmitted_received"] > 0, flow


def test_ristbond_receive_output_is_whole_after_the_handshake(receive_run: ReceiveRun) -> None:
    assert_whole_from_first(receive_run.output, receive_run.fed_chunks, LIBRIST_HEAD_LOSS)

