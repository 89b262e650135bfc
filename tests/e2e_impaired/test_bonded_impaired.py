"""Bonded streams through impairing relays, end to end, as separate processes.

``ristbond send`` (testsrc) → one ``ristbond netem`` relay per link → ``ristbond
receive`` (file). The receiver must write exactly the bytes the sender read, however
the relays lose datagrams, and a link that dies and returns must be re-admitted.
(Only the stream's very first and last packets are beyond ARQ; see ``harness``.)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ristbond_core.relay.control import send_command
from tests.e2e_impaired.harness import (
    HOST,
    Processes,
    assert_whole_stream,
    link_states,
    netem_argv,
    processes,
    read_stats,
    require_send_receive,
    ristbond_argv,
)
from tests.relay.udp_tools import free_port_pair

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BITRATE_KBPS = 2000
LATENCY_MS = 1000  # ≥ 4 × the relays' RTT (about 2 × 40 ms + jitter)
DELAYS = ("20ms", "30ms", "40ms", "25ms")


@dataclass
class BondRun:
    """What one send → relays → receive run produced."""

    output: bytes
    send_log: str
    receive_log: str
    sender_stats: Path
    relay_logs: list[str]


def run_bond(tmp_path: Path, group: Processes, links: int, send_s: float, *, loss: str = "5%",
             outage: tuple[int, float, float] | None = None) -> BondRun:
    """Run the whole chain; ``outage`` = (link index, start s, end s) after the sender starts."""
    taken: set[int] = set()
    receive_port = free_port_pair(taken)
    listens = [free_port_pair(taken) for _ in range(links)]
    controls = [free_port_pair(taken) for _ in range(links)]
    output = tmp_path / "out.ts"
    sender_stats = tmp_path / "send-stats.jsonl"
    receiver = group.start("receive", ristbond_argv(
        "-v", "receive", "--listen", f"rist://@{HOST}:{receive_port}", "--output", f"file://{output}",
        "--latency-ms", str(LATENCY_MS), "--stats-json", str(tmp_path / "receive-stats.jsonl"),
        "--duration", str(send_s + 15)))
    relays = []
    for index, listen in enumerate(listens):
        relay = group.start(f"netem{index}", netem_argv(
            f"{HOST}:{listen}", f"{HOST}:{receive_port}", delay=DELAYS[index], jitter="5ms",
            loss=loss, seed=index + 1, control=f"{HOST}:{controls[index]}"))
        relays.append(relay)
    for relay in relays:
        group.wait_for_text(relay, "ristbond netem: ")
    link_args = []
    for index, listen in enumerate(listens):
        link_args += ["--link", f"rist://{HOST}:{listen}?id=l{index}"]
    sender = group.start("send", ristbond_argv(
        "-v", "send", "--input", f"testsrc://?bitrate={BITRATE_KBPS}", *link_args,
        "--latency-ms", str(LATENCY_MS), "--stats-json", str(sender_stats),
        "--stats-interval-ms", "200", "--duration", str(send_s)))
    if outage is not None:
        index, start_s, end_s = outage
        control = (HOST, controls[index])
        time.sleep(start_s)
        assert send_command(control, "down all") == "ok"
        time.sleep(end_s - start_s)
        assert send_command(control, "up all") == "ok"
    assert group.wait(sender, send_s + 60) == 0, sender.text()
    assert group.wait(receiver, send_s + 60) == 0, receiver.text()
    return BondRun(output.read_bytes() if output.exists() else b"", sender.text(),
                   receiver.text(), sender_stats, [relay.text() for relay in relays])


def relays_dropped(run: BondRun) -> int:
    """Datagrams the relays dropped on purpose (so a clean result means ARQ worked)."""
    total = 0
    for text in run.relay_logs:
        line = [row for row in text.splitlines() if row.startswith("{")][-1]
        stats = json.loads(line)
        total += sum(link["forward"]["dropped_loss"] for link in stats["links"])
    return total


def stop_relays(group: Processes) -> None:
    """End the relays (they run until told) so their counters are printed."""
    for proc in group.started:
        if proc.name.startswith("netem") and proc.popen.poll() is None:
            proc.popen.terminate()
            group.wait(proc, 20)


@pytest.mark.parametrize("links", [2, 4])
def test_bond_over_lossy_relays_delivers_the_stream_byte_identical(
    tmp_path: Path, links: int
) -> None:
    require_send_receive()
    with processes(tmp_path) as group:
        run = run_bond(tmp_path, group, links, send_s=10)
        stop_relays(group)
        run.relay_logs = [proc.text() for proc in group.started if proc.name.startswith("netem")]
    assert_whole_stream(run.output, run.send_log, run.receive_log)
    assert relays_dropped(run) > 20  # 5 % of ~1000 packets: the relays really lost some


def test_link_killed_mid_stream_leaves_no_gap_and_is_readmitted(tmp_path: Path) -> None:
    require_send_receive()
    with processes(tmp_path) as group:
        run = run_bond(tmp_path, group, 2, send_s=24, loss="2%", outage=(1, 7.0, 12.0))
    assert_whole_stream(run.output, run.send_log, run.receive_log)
    states = link_states(read_stats(run.sender_stats), "l1")
    print("l1 lifecycle:", " → ".join(states))
    assert "live" in states, states
    first_live = states.index("live")
    left = next((i for i in range(first_live, len(states)) if states[i] != "live"), None)
    assert left is not None, f"l1 never left live: {states}"
    # Re-admitted gradually: probe, then warm, then live again, in that order. (What the
    # lifecycle does as the stream winds down after that is not this test's concern.)
    after = states[left:]
    assert "probe" in after, f"l1 was not re-probed: {states}"
    warm_at = after.index("warm", after.index("probe")) if "warm" in after else None
    assert warm_at is not None, f"l1 never warmed up again: {states}"
    assert "live" in after[warm_at:], f"l1 did not come back: {states}"
    # The healthy link never stopped carrying the stream.
    assert "live" in link_states(read_stats(run.sender_stats), "l0")
