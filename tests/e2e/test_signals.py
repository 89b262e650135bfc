"""SIGINT/SIGTERM stop cleanly with a final stats line; SIGHUP changes links mid-stream."""

from __future__ import annotations

import signal
import time

import pytest

from ristbond_core.runtime.testsrc import CHUNK_BYTES, check_ts, expected_testsrc
from tests.e2e.conftest import Runner, read_jsonl, wait_until_bound

pytestmark = pytest.mark.e2e


def wait_for_output(path_size: object, timeout_s: float = 10.0) -> None:
    """Wait until ``path_size()`` reports bytes (the stream is flowing)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(path_size) and path_size() > 0:
            return
        time.sleep(0.05)
    raise AssertionError("no output within the time limit")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_ends_both_ends_with_a_final_stats_line(
    runner: Runner, signum: signal.Signals
) -> None:
    port = runner.port()
    out = runner.tmp / "out.ts"
    receiver = runner.start("receiver", "receive", "--listen", f"rist://@127.0.0.1:{port}",
                            "--output", f"file://{out}", "--latency-ms", "200")
    wait_until_bound(port, receiver)
    sender = runner.start("sender", "send", "--input", "testsrc://?bitrate=2000",
                          "--link", f"rist://127.0.0.1:{port}", "--latency-ms", "200")
    wait_for_output(lambda: out.stat().st_size if out.exists() else 0)
    sender.signal(signum)
    assert sender.wait(8) == 0, sender.err
    receiver.signal(signum)
    assert receiver.wait(8) == 0, receiver.err
    assert f"ristbond send: stopped ({signum.name})" in sender.err
    assert f"ristbond receive: stopped ({signum.name})" in receiver.err
    assert "Traceback" not in sender.err + receiver.err
    assert receiver.final()[0] > 0


def write_links(path: object, port: int, ids: list[str]) -> None:
    """A config file whose [[links]] all aim at ``port``."""
    text = "".join(f'[[links]]\nid = "{i}"\nurl = "rist://127.0.0.1:{port}"\n\n' for i in ids)
    path.write_text(text, encoding="utf-8")  # type: ignore[attr-defined]


def test_sighup_adds_a_link_without_a_gap(runner: Runner) -> None:
    port = runner.port()
    out = runner.tmp / "out.ts"
    config = runner.tmp / "links.toml"
    write_links(config, port, ["first"])
    receiver = runner.start("receiver", "receive", "--listen", f"rist://@127.0.0.1:{port}",
                            "--output", f"file://{out}", "--latency-ms", "300",
                            "--duration", "18")
    wait_until_bound(port, receiver)
    sender = runner.start("sender", "send", "--config", str(config), "--input",
                          "testsrc://?bitrate=3000", "--latency-ms", "300", "--duration", "4",
                          "--stats-json", str(runner.tmp / "tx.jsonl"),
                          "--stats-interval-ms", "200")
    wait_for_output(lambda: out.stat().st_size if out.exists() else 0)
    write_links(config, port, ["first", "second"])
    sender.signal(signal.SIGHUP)
    assert sender.wait(15) == 0, sender.err
    receiver.signal(signal.SIGINT)
    assert receiver.wait(6) == 0, receiver.err
    assert "links now first, second" in sender.err
    final = read_jsonl(runner.tmp / "tx.jsonl")[-1]
    carried = {link["id"]: link["sent_packets"] for link in final["links"]}
    assert set(carried) == {"first", "second"}
    assert carried["second"] > 0
    data = out.read_bytes()
    assert receiver.final() == sender.final()
    assert check_ts(data).clean
    assert data == expected_testsrc(len(data) // CHUNK_BYTES)


def test_sighup_removes_a_link_and_the_stream_goes_on(runner: Runner) -> None:
    port = runner.port()
    out = runner.tmp / "out.ts"
    config = runner.tmp / "links.toml"
    write_links(config, port, ["first", "second"])
    receiver = runner.start("receiver", "receive", "--listen", f"rist://@127.0.0.1:{port}",
                            "--output", f"file://{out}", "--latency-ms", "300",
                            "--duration", "18")
    wait_until_bound(port, receiver)
    sender = runner.start("sender", "send", "--config", str(config), "--input",
                          "testsrc://?bitrate=3000", "--latency-ms", "300", "--duration", "4")
    wait_for_output(lambda: out.stat().st_size if out.exists() else 0)
    write_links(config, port, ["second"])
    sender.signal(signal.SIGHUP)
    assert sender.wait(15) == 0, sender.err
    receiver.signal(signal.SIGINT)
    assert receiver.wait(6) == 0, receiver.err
    assert "links now second" in sender.err
    data = out.read_bytes()
    assert receiver.final() == sender.final()
    assert check_ts(data).clean


def test_configured_telemetry_exporters_receive_every_snapshot(runner: Runner) -> None:
    port = runner.port()
    lines = runner.tmp / "telemetry.jsonl"
    config = runner.tmp / "telemetry.toml"
    config.write_text(
        '[telemetry]\nexporters = ["jsonl"]\ninterval_ms = 200\n'
        f'[telemetry.options.jsonl]\npath = "{lines}"\n', encoding="utf-8",
    )
    result = runner.run("receive", "--config", str(config), "--listen",
                        f"rist://@127.0.0.1:{port}", "--output", f"file://{runner.tmp}/o.ts",
                        "--duration", "1.2")
    assert result.returncode == 0, result.stderr
    snapshots = read_jsonl(lines)
    assert len(snapshots) >= 3
    assert {s["role"] for s in snapshots} == {"receiver"}


def test_a_reloaded_link_that_cannot_open_is_reported_and_the_stream_goes_on(
    runner: Runner,
) -> None:
    port = runner.port()
    out = runner.tmp / "out.ts"
    config = runner.tmp / "links.toml"
    write_links(config, port, ["first"])
    receiver = runner.start("receiver", "receive", "--listen", f"rist://@127.0.0.1:{port}",
                            "--output", f"file://{out}", "--latency-ms", "300",
                            "--duration", "18")
    wait_until_bound(port, receiver)
    sender = runner.start("sender", "send", "--config", str(config), "--input",
                          "testsrc://?bitrate=2000", "--latency-ms", "300", "--duration", "3")
    wait_for_output(lambda: out.stat().st_size if out.exists() else 0)
    config.write_text(
        config.read_text(encoding="utf-8")
        + f'[[links]]\nid = "ghost"\nurl = "rist://127.0.0.1:{port}"\ninterface = "nosuch0"\n',
        encoding="utf-8",
    )
    sender.signal(signal.SIGHUP)
    assert sender.wait(15) == 0, sender.err
    receiver.signal(signal.SIGINT)
    assert receiver.wait(6) == 0, receiver.err
    assert "cannot add link 'ghost'" in sender.err and "'nosuch0'" in sender.err
    assert "links now first" in sender.err
    assert receiver.final() == sender.final()
