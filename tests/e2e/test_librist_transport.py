"""``ristbond send/receive --transport librist``: main profile with PSK, simple-profile
interop with the core's own udp engines.

Loopback only; every process is started by the runner and killed by PID at teardown.
"""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ristbond_core.relay import Relay
from ristbond_core.runtime.testsrc import CHUNK_BYTES, make_testsrc_chunk
from tests.conftest import require_program
from tests.e2e.conftest import Runner, collect_udp_while_running, read_jsonl, wait_port_bound
from tests.interop.peers import relay_link
from tests.librist.conftest import require_librist

pytestmark = [pytest.mark.e2e, pytest.mark.interop]

SECRET = "field-unit-7-psk"
PSK = f"secret={SECRET}&aes-type=128"
CHUNKS = 1200  # 1316-byte testsrc chunks: about 1.6 MB, 3.2 s at 4 Mbit/s
#: A librist *receiver* drops what arrives before its handshake (interop fact 4): 1-3
#: packets with librist senders, up to 5 seen from ours at 4 Mbit/s (its RTP and RTCP
#: sockets race); 10 chunks is about 26 ms of this stream.
HEAD_LOSS_MAX = 10
SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "stats.schema.json"


@pytest.fixture(autouse=True)
def librist_installed() -> None:
    """These tests need librist (apt librist4) and its plugin."""
    require_librist()


def write_input(path: Path, chunks: int = CHUNKS) -> bytes:
    data = b"".join(make_testsrc_chunk(i) for i in range(chunks))
    path.write_bytes(data)
    return data


def config_file(path: Path, **options: Any) -> Path:
    lines = ['[transport]', 'name = "librist"', '[transport.options]']
    lines += [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stop(proc: Any, timeout_s: float = 15.0) -> int:
    proc.signal(signal.SIGINT)
    return int(proc.wait(timeout_s))


def send_file(runner: Runner, source: Path, links: list[str], *extra: str) -> Any:
    args = ["send", "--input", f"file://{source}", "--bitrate", "4000", "--latency-ms", "500"]
    for link in links:
        args += ["--link", link]
    return runner.start("sender", *args, *extra)


def wait_exit(proc: Any, timeout_s: float) -> int:
    try:
        return int(proc.wait(timeout_s))
    except subprocess.TimeoutExpired:
        pytest.fail(f"process still running after {timeout_s} s:\n{proc.err}")


def test_main_profile_psk_two_links_is_byte_identical(runner: Runner, tmp_path: Path) -> None:
    data = write_input(tmp_path / "in.ts")
    out = tmp_path / "out.ts"
    a, b = runner.port(), runner.port()
    receiver = runner.start("receiver", "receive", "--transport", "librist",
                            "--listen", f"rist://@127.0.0.1:{a}?{PSK}",
                            "--listen", f"rist://@127.0.0.1:{b}?{PSK}",
                            "--latency-ms", "500", "--output", f"file://{out}",
                            "--stats-json", str(tmp_path / "rx.jsonl"))
    wait_port_bound(a)
    sender = send_file(runner, tmp_path / "in.ts",
                       [f"rist://127.0.0.1:{a}?{PSK}", f"rist://127.0.0.1:{b}?{PSK}"],
                       "--transport", "librist", "--stats-json", str(tmp_path / "tx.jsonl"))
    assert wait_exit(sender, 30) == 0, sender.err
    time.sleep(1.0)
    assert stop(receiver) == 0, receiver.err
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    last = read_jsonl(tmp_path / "tx.jsonl")[-1]
    assert last["session"]["transport"] == "librist"
    # Both links carried the stream (librist load-shares by the applied weights).
    assert all(link["sent_packets"] > CHUNKS // 5 for link in last["links"]), last["links"]
    assert SECRET not in sender.err + receiver.err
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    snapshots = read_jsonl(tmp_path / "tx.jsonl") + read_jsonl(tmp_path / "rx.jsonl")
    assert {s["role"] for s in snapshots} == {"sender", "receiver"}
    for snapshot in snapshots:
        jsonschema.validate(snapshot, schema)
        assert SECRET not in json.dumps(snapshot)


def test_wrong_secret_delivers_nothing_and_says_so(runner: Runner, tmp_path: Path) -> None:
    write_input(tmp_path / "in.ts", 300)
    out = tmp_path / "out.ts"
    a = runner.port()
    receiver = runner.start("receiver", "receive", "--transport", "librist",
                            "--listen", f"rist://@127.0.0.1:{a}?secret=another-one&aes-type=128",
                            "--output", f"file://{out}")
    wait_port_bound(a)
    sender = send_file(runner, tmp_path / "in.ts", [f"rist://127.0.0.1:{a}?{PSK}"],
                       "--transport", "librist")
    assert wait_exit(sender, 30) == 0, sender.err
    assert stop(receiver) == 0, receiver.err
    assert out.read_bytes() == b""
    assert "output 0 datagrams" in receiver.err
    assert "wrong secret" in receiver.err, receiver.err


def test_main_profile_psk_into_ristreceiver(runner: Runner, tmp_path: Path) -> None:
    program = require_program("ristreceiver", "rist-tools")
    data = write_input(tmp_path / "in.ts")
    a, b, sink_port = runner.port(), runner.port(), runner.port()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", sink_port))
    sink.setblocking(False)
    with (tmp_path / "ristreceiver.log").open("wb") as log:
        peer = subprocess.Popen(
            [program, "-p", "1", "-b", "500",
             "-i", f"rist://@127.0.0.1:{a}?{PSK},rist://@127.0.0.1:{b}?{PSK}",
             "-o", f"udp://127.0.0.1:{sink_port}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    got = bytearray()
    try:
        wait_port_bound(a)
        sender = send_file(runner, tmp_path / "in.ts",
                           [f"rist://127.0.0.1:{a}?{PSK}", f"rist://127.0.0.1:{b}?{PSK}"],
                           "--transport", "librist")
        collect_udp_while_running(sink, sender, got, limit_s=30, settle_s=1.5)
        assert sender.wait(1) == 0, sender.err
    finally:
        if peer.poll() is None:
            peer.send_signal(signal.SIGKILL)
        peer.wait(timeout=5)
        sink.close()
    assert bytes(got) == data



def test_simple_profile_librist_sender_into_udp_receiver(runner: Runner, tmp_path: Path) -> None:
    data = write_input(tmp_path / "in.ts")
    out = tmp_path / "out.ts"
    port = runner.port()
    receiver = runner.start("receiver", "receive", "--listen", f"rist://@127.0.0.1:{port}",
                            "--latency-ms", "500", "--output", f"file://{out}")
    wait_port_bound(port)
    config = config_file(tmp_path / "simple.toml", profile="simple")
    sender = send_file(runner, tmp_path / "in.ts",
                       [f"rist://127.0.0.1:{port}", f"rist://127.0.0.1:{port}"],
                       "--config", str(config))
    assert wait_exit(sender, 30) == 0, sender.err
    time.sleep(1.0)
    assert stop(receiver) == 0, receiver.err
    assert out.read_bytes() == data


def test_simple_profile_udp_sender_into_librist_receiver(runner: Runner, tmp_path: Path) -> None:
    data = write_input(tmp_path / "in.ts")
    out = tmp_path / "out.ts"
    port = runner.port()
    config = config_file(tmp_path / "simple.toml", profile="simple")
    receiver = runner.start("receiver", "receive", "--config", str(config),
                            "--listen", f"rist://@127.0.0.1:{port}",
                            "--latency-ms", "500", "--output", f"file://{out}")
    wait_port_bound(port)
    # A simple-profile librist receiver merges links only on one port (interop fact 1).
    sender = send_file(runner, tmp_path / "in.ts",
                       [f"rist://127.0.0.1:{port}", f"rist://127.0.0.1:{port}"],
                       "--transport", "udp")
    assert wait_exit(sender, 30) == 0, sender.err
    time.sleep(1.0)
    assert stop(receiver) == 0, receiver.err
    # librist's receiver ignores data until its handshake completes (interop fact 4):
    # the first packets may be missing, everything after them must be whole.
    assert_whole_after_head(out.read_bytes(), data)


def assert_whole_after_head(got: bytes, data: bytes) -> None:
    """``got`` is ``data`` less at most ``HEAD_LOSS_MAX`` leading chunks."""
    missing = len(data) - len(got)
    assert 0 <= missing <= HEAD_LOSS_MAX * CHUNK_BYTES and missing % CHUNK_BYTES == 0, missing
    assert data.endswith(got)


def _latest(path: Path) -> dict[str, Any] | None:
    try:
        snapshots = read_jsonl(path)
    except (OSError, ValueError):  # not written yet, or a line being written
        return None
    return snapshots[-1] if snapshots else None


def _wait_snapshot(path: Path, ready: Any, timeout_s: float) -> dict[str, Any] | None:
    """The first latest snapshot for which ``ready(snapshot)`` holds, or None on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        snapshot = _latest(path)
        if snapshot is not None and ready(snapshot):
            return snapshot
        time.sleep(0.1)
    return None


def test_a_link_degraded_through_the_relay_loses_weight(runner: Runner, tmp_path: Path) -> None:
    """15 % loss on link a's media path: within seconds its weight drops and the loss is
    attributed to a, not to b (which carries the NACKs and the retransmissions)."""
    a_rx, b_rx, a_hop = runner.port(), runner.port(), runner.port()
    stats = tmp_path / "tx.jsonl"
    with Relay([relay_link("a", a_hop, a_rx)], seed=9) as relay:
        receiver = runner.start("receiver", "receive", "--transport", "librist",
                                "--listen", f"rist://@127.0.0.1:{a_rx}",
                                "--listen", f"rist://@127.0.0.1:{b_rx}",
                                "--latency-ms", "500", "--output", "file:///dev/null")
        wait_port_bound(a_rx)
        sender = runner.start("sender", "send", "--transport", "librist",
                              "--input", "testsrc://?bitrate=4000", "--latency-ms", "500",
                              "--link", f"rist://127.0.0.1:{a_hop}?id=a",
                              "--link", f"rist://127.0.0.1:{b_rx}?id=b",
                              "--duration", "30", "--stats-json", str(stats))

        def states(snapshot: dict[str, Any]) -> dict[str, str]:
            return {link["id"]: link["state"] for link in snapshot["links"]}

        live = _wait_snapshot(stats, lambda s: set(states(s).values()) == {"live"}, 15)
        assert live is not None, f"links never both live: {_latest(stats)}\n{sender.err}"
        before = live["session"]["applied_weights"]
        assert before["a"] > 0 and before["b"] > 0, before
        relay.link("a").update("forward", loss="15%")
        changed_at = time.monotonic()
        demoted = _wait_snapshot(
            stats, lambda s: s["session"]["applied_weights"]["a"] < 0.8 * before["a"], 6)
        elapsed = time.monotonic() - changed_at
        assert demoted is not None, f"weights still {_latest(stats)}"
        attribution = demoted["transport"]["loss_attribution"]
        assert attribution["loss"]["a"] > attribution["loss"]["b"], attribution
        assert demoted["session"]["applied_weights"]["b"] > before["b"]
        assert stop(sender) == 0, sender.err
        assert stop(receiver) == 0, receiver.err
    print(f"weights {before} -> {demoted['session']['applied_weights']} after {elapsed:.1f} s; "
          f"attributed loss {attribution['loss']}")
