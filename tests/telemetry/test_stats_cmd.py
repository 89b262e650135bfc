"""``ristbond stats`` shows what a node's json-udp exporter sends."""

from __future__ import annotations

import io
import json
import socket
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest

from ristbond_core.cli import main
from ristbond_core.cli.stats_cmd import CLEAR_SCREEN, LiveView, render_snapshot
from ristbond_core.telemetry.json_udp import JsonUdpExporter, JsonUdpOptions


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_while_sending(argv: list[str], port: int,
                      snapshots: list[Mapping[str, Any]], **options: Any) -> int:
    """Run the command on a thread and feed it snapshots until it returns (bounded)."""
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(main(argv)), daemon=True)
    thread.start()
    exporter = JsonUdpExporter(JsonUdpOptions(address=f"127.0.0.1:{port}", **options))
    try:
        for round_ in range(200):
            if not thread.is_alive():
                break
            exporter.export(snapshots[round_ % len(snapshots)])
            thread.join(0.05)
    finally:
        exporter.close()
    thread.join(15)
    assert result, "the command did not finish"
    return result[0]


def test_once_prints_the_link_table(capsys: pytest.CaptureFixture[str],
                                    sender_snapshot: dict[str, Any]) -> None:
    port = free_udp_port()
    code = run_while_sending(["stats", "--listen", f"udp://@127.0.0.1:{port}", "--once"],
                             port, [sender_snapshot])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("sender from 127.0.0.1:")
    assert "\x1b[" not in out  # not a terminal: no screen control
    for header in ("LINK", "STATE", "SHARE", "RTT ms", "LOSS", "CAPACITY"):
        assert header in out
    for link in sender_snapshot["links"]:
        assert any(line.split()[:2] == [link["id"], link["state"]] for line in out.splitlines())


def test_once_json_prints_the_reassembled_snapshot(
    capsys: pytest.CaptureFixture[str], sender_snapshot: dict[str, Any]
) -> None:
    port = free_udp_port()
    big = {**sender_snapshot,
           "links": [{**sender_snapshot["links"][0], "id": f"m{i}"} for i in range(30)]}
    code = run_while_sending(
        ["stats", "--listen", f"udp://@127.0.0.1:{port}", "--once", "--json"],
        port, [big], max_datagram_bytes=2048,
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out) == big


def test_duration_bounds_the_live_view(capsys: pytest.CaptureFixture[str],
                                       sim_run: Any) -> None:
    port = free_udp_port()
    started = time.monotonic()
    code = run_while_sending(
        ["stats", "--listen", f"udp://@127.0.0.1:{port}", "--duration", "1.5"],
        port, sim_run.snapshots,
    )
    assert code == 0
    assert time.monotonic() - started < 12
    out = capsys.readouterr().out
    assert "sender from" in out
    assert "receiver from" in out
    assert "lost (residual)" in out


def test_once_without_traffic_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_udp_port()
    code = main(["stats", "--listen", f"udp://@127.0.0.1:{port}", "--once",
                 "--duration", "0.3"])
    assert code == 1
    assert "no snapshot received within 0.3 s" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["rist://@127.0.0.1:9000", "udp://@127.0.0.1", "127.0.0.1:9"])
def test_a_bad_listen_url_is_a_usage_error(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--listen", url, "--once"]) == 2
    assert "--listen" in capsys.readouterr().err


def test_a_busy_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        assert main(["stats", "--listen", f"udp://@127.0.0.1:{port}", "--once"]) == 2
    assert "cannot bind" in capsys.readouterr().err


def test_receiver_view_shows_residual_loss_and_buffer(receiver_snapshot: dict[str, Any]) -> None:
    text = render_snapshot(receiver_snapshot, "10.0.0.2:4000")
    assert text.startswith("receiver from 10.0.0.2:4000")
    assert "lost (residual)" in text
    assert "buffer" in text
    for link in receiver_snapshot["links"]:
        assert f"\n{link['id']} " in text


def test_a_late_datagram_does_not_go_back_in_time(sim_run: Any) -> None:
    senders = sim_run.of("sender")
    view = LiveView()
    view.take(("n", "sender"), senders[-2])
    view.take(("n", "sender"), senders[-1])
    view.take(("n", "sender"), senders[-3])
    assert view.latest[("n", "sender")] is senders[-1]
    assert view.previous[("n", "sender")] is senders[-2]


def test_rates_come_from_the_difference_of_two_snapshots(sim_run: Any) -> None:
    first, second = sim_run.of("sender")[8:10]
    elapsed_s = (second["monotonic_ns"] - first["monotonic_ns"]) / 1e9
    link = second["links"][0]
    sent = link["sent_bytes"] - first["links"][0]["sent_bytes"]
    assert sent > 0
    expected = sent * 8 / elapsed_s
    row = render_snapshot(second, "", first).splitlines()[2].split()
    assert row[0] == link["id"]
    shown = float(row[7].rstrip("Mk")) * {"M": 1e6, "k": 1e3}.get(row[7][-1], 1)
    assert shown == pytest.approx(expected, rel=0.01)


class Terminal(io.StringIO):
    """Captured output that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_view_redraws_in_place(monkeypatch: pytest.MonkeyPatch,
                                                 sim_run: Any) -> None:
    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    port = free_udp_port()
    code = run_while_sending(
        ["stats", "--listen", f"udp://@127.0.0.1:{port}", "--duration", "1.0"],
        port, sim_run.snapshots,
    )
    assert code == 0
    frames = screen.getvalue().split(CLEAR_SCREEN)[1:]
    assert len(frames) >= 2
    assert "sender from" in frames[-1]
    assert "receiver from" in frames[-1]  # both nodes stay on screen
