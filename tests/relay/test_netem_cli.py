"""``ristbond netem``: clear one-line errors, a real relay as a subprocess, live control."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ristbond_core.cli import main
from ristbond_core.relay.control import send_command
from tests.relay.udp_tools import HOST, Collector, bound_socket, free_port_pair, send_paced


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--rate", "5 parsecs"], "--rate: cannot read '5 parsecs'"),
        (["--delay", "soon"], "--delay: cannot read 'soon'"),
        (["--loss", "120%"], "--loss: cannot read '120%'"),
        (["--reverse-jitter", "x"], "--reverse-jitter: cannot read 'x'"),
        (["--queue", "-3"], "--queue: cannot read '-3'"),
        (["--duration", "0"], "--duration: must be greater than 0"),
        (["--listen", "127.0.0.1:23003"], "2 --listen but 1 --forward"),
    ],
)
def test_bad_options_exit_2_with_one_line_naming_the_option(
    extra: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["netem", "--listen", "127.0.0.1:23001", "--forward", "127.0.0.1:23011",
                 *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("option", [["--loss", "2%"], ["--reverse-delay", "5ms"],
                                    ["--jitter-reorders"]])
def test_links_file_and_inline_options_do_not_mix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    path = tmp_path / "links.toml"
    path.write_text('[[links]]\nlisten = "127.0.0.1:23001"\nforward = "127.0.0.1:23011"\n')
    assert main(["netem", "--links", str(path), *option]) == 2
    assert f"{option[0]} does not combine with --links" in capsys.readouterr().err


def test_missing_links_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["netem", "--links", str(tmp_path / "nope.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_busy_listen_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    taken: set[int] = set()
    port, target = free_port_pair(taken), free_port_pair(taken)
    blocker = bound_socket(port + 1)
    try:
        code = main(["netem", "--listen", f"{HOST}:{port}", "--forward", f"{HOST}:{target}",
                     "--duration", "0.1"])
    finally:
        blocker.close()
    assert code == 2
    assert f"cannot bind 127.0.0.1:{port + 1}" in capsys.readouterr().err


def start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ristbond_core.cli", "netem", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_ready(process: subprocess.Popen[str], links: int) -> None:
    """The command prints one line per link on stderr once its sockets are bound."""
    assert process.stderr is not None
    for _ in range(links):
        line = process.stderr.readline()
        assert line.startswith("ristbond netem: "), line


def finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


@pytest.mark.e2e
def test_cli_relays_with_loss_and_reports_counters_as_json(tmp_path: Path) -> None:
    taken: set[int] = set()
    listen, target, control = free_port_pair(taken), free_port_pair(taken), free_port_pair(taken)
    stats_file = tmp_path / "netem.json"
    process = start_cli("--listen", f"{HOST}:{listen}", "--forward", f"{HOST}:{target}",
                        "--delay", "5ms", "--loss", "50%", "--seed", "4", "--duration", "4",
                        "--control", f"{HOST}:{control}", "--json",
                        "--stats-json", str(stats_file))
    sender, receiver = bound_socket(), bound_socket(target)
    try:
        wait_ready(process, 1)
        collector = Collector(receiver).start()
        send_paced(sender, (HOST, listen), 400, 100, interval_s=0.001)
        arrivals = collector.wait()
        live = json.loads(send_command((HOST, control), "stats"))
        out, _ = finish(process)
    finally:
        sender.close()
        receiver.close()
        if process.poll() is None:
            process.kill()
    final = json.loads(out.strip().splitlines()[-1])
    forward = final["links"][0]["forward"]
    assert final["schema"] == "ristbond-netem/1"
    assert forward["received"] == 400
    assert forward["forwarded"] == len(arrivals)
    assert forward["dropped_loss"] == 400 - len(arrivals)
    assert 120 < len(arrivals) < 280
    assert live["links"][0]["forward"]["received"] == 400
    assert json.loads(stats_file.read_text()) == final


@pytest.mark.e2e
def test_control_port_and_signals_take_links_down_and_up(tmp_path: Path) -> None:
    taken: set[int] = set()
    listens = [free_port_pair(taken), free_port_pair(taken)]
    targets = [free_port_pair(taken), free_port_pair(taken)]
    control = free_port_pair(taken)
    links = tmp_path / "links.toml"
    links.write_text("".join(
        f'[[links]]\nname = "l{i}"\nlisten = "{HOST}:{listens[i]}"\n'
        f'forward = "{HOST}:{targets[i]}"\ndelay = "2ms"\n' for i in range(2)))
    process = start_cli("--links", str(links), "--control", f"{HOST}:{control}", "--json",
                        "--duration", "20")
    sender = bound_socket()
    receivers = [bound_socket(port) for port in targets]

    def burst(count: int = 20) -> list[int]:
        collectors = [Collector(r).start(quiet_s=0.3) for r in receivers]
        for port in listens:
            send_paced(sender, (HOST, port), count, 100, interval_s=0.001)
        return [len(c.wait()) for c in collectors]

    try:
        wait_ready(process, 2)
        assert burst() == [20, 20]
        assert send_command((HOST, control), "down l1") == "ok"
        assert burst() == [20, 0]
        assert send_command((HOST, control), "up l1") == "ok"
        assert send_command((HOST, control), "set l0 forward loss=100%") == "ok"
        assert burst() == [0, 20]
        assert send_command((HOST, control), "set all loss=0 delay=1ms") == "ok"
        assert send_command((HOST, control), "down nosuch").startswith("error: no link named")
        assert send_command((HOST, control), "set l0 loss=lots").startswith(
            "error: l0.forward.loss: cannot read")
        assert send_command((HOST, control), "fly").startswith("error: unknown command")
        process.send_signal(signal.SIGUSR1)
        time.sleep(0.3)
        assert burst() == [0, 0]
        process.send_signal(signal.SIGUSR2)
        time.sleep(0.3)
        assert burst() == [20, 20]
        process.send_signal(signal.SIGTERM)
        out, _ = finish(process)
    finally:
        sender.close()
        for sock in receivers:
            sock.close()
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0
    final = json.loads(out.strip().splitlines()[-1])
    l0, l1 = final["links"]
    assert (l0["forward"]["dropped_outage"], l1["forward"]["dropped_outage"]) == (20, 40)
    assert l0["forward"]["dropped_loss"] == 20
