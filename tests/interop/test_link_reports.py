"""Two ristbond instances exchange per-link receive reports (APP "RBLR") that no other
RIST implementation sends; from them the sender estimates each link's delivery rate and
capacity. Against librist the same fields stay empty or come from the delay fallback
(see ``test_librist.test_ristreceiver_gives_no_per_link_delivery_rate``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ristbond_core.relay import Relay
from tests.interop.peers import (
    HOST,
    Group,
    Ports,
    read_snapshots,
    relay_link,
    ristbond_argv,
    wait_bound,
)

pytestmark = [pytest.mark.e2e, pytest.mark.interop]

LATENCY_MS = 500
SEND_SECONDS = 3


def test_ristbond_peer_reports_give_per_link_rates(ports: Ports, group: Group,
                                                   tmp_path: Path) -> None:
    rist, hop_a, hop_b = ports.pair(), ports.pair(), ports.pair()
    stats = tmp_path / "send-stats.jsonl"
    # Both links rate-limited: packet pairs time a link without a limit (loopback) at
    # hundreds of Mbit/s, and dwrr would rightly leave the 2 Mbit/s link nearly idle.
    links = [relay_link("a", hop_a, rist, delay="10ms", rate="4mbit"),
             relay_link("b", hop_b, rist, delay="20ms", rate="2mbit")]
    with Relay(links, seed=2):
        receiver = group.start("receive", ristbond_argv(
            "receive", "--listen", f"rist://@{HOST}:{rist}", "--output",
            f"file://{tmp_path / 'out.ts'}", "--latency-ms", str(LATENCY_MS),
            "--duration", "30"))
        wait_bound(rist, receiver.popen, receiver.log)
        sender = group.start("send", ristbond_argv(
            "send", "--input", "testsrc://?bitrate=3000",
            "--link", f"rist://{HOST}:{hop_a}?id=a", "--link", f"rist://{HOST}:{hop_b}?id=b",
            "--latency-ms", str(LATENCY_MS), "--duration", str(SEND_SECONDS),
            "--stats-json", str(stats), "--stats-interval-ms", "500"))
        assert group.wait(sender, 30) == 0, sender.text()
        group.stop(receiver)
    snapshots = read_snapshots(stats)
    assert snapshots, sender.text()
    # After the input ends a report interval delivers nothing: look while it streams.
    streaming = [snap for snap in snapshots if snap["uptime_ms"] <= SEND_SECONDS * 1000]
    assert len(streaming) >= 3, snapshots
    for snapshot in streaming:
        by_id = {link["id"]: link for link in snapshot["links"]}
        assert set(by_id) == {"a", "b"}, by_id
        for link in by_id.values():
            assert link["delivery_rate_bps"] is not None, link
            assert link["delivery_rate_bps"] > 0, link
            assert link["capacity_bps"] is not None, link
            assert link["capacity_bps"] > 0, link
