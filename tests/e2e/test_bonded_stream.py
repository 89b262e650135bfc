"""A testsrc stream sent over 1, 2 and 4 loopback links arrives whole and byte-identical."""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from ristbond_core.runtime.testsrc import CHUNK_BYTES, check_ts, expected_testsrc
from tests.e2e.conftest import Proc, Runner, read_jsonl, wait_until_bound

pytestmark = pytest.mark.e2e

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "stats.schema.json"
LATENCY_MS = "400"


@dataclass
class Run:
    """Both processes after they exited, and the receiver's output file."""

    sender: Proc
    receiver: Proc
    output: bytes


def send_and_receive(runner: Runner, links: int, seconds: float = 2.5) -> Run:
    """Run receiver and sender to completion; return what each side reported."""
    port = runner.port()
    out = runner.tmp / "out.ts"
    receiver = runner.start(
        "receiver", "receive", "--listen", f"rist://@127.0.0.1:{port}",
        "--output", f"file://{out}", "--latency-ms", LATENCY_MS, "--duration", "18",
        "--stats-json", str(runner.tmp / "rx.jsonl"), "--stats-interval-ms", "500",
    )
    wait_until_bound(port, receiver)
    link_args = [arg for _ in range(links) for arg in ("--link", f"rist://127.0.0.1:{port}")]
    sender = runner.start(
        "sender", "send", "--input", "testsrc://?bitrate=3000", *link_args,
        "--latency-ms", LATENCY_MS, "--duration", str(seconds),
        "--stats-json", str(runner.tmp / "tx.jsonl"), "--stats-interval-ms", "500",
    )
    assert sender.wait(12) == 0, sender.err
    receiver.signal(signal.SIGINT)
    assert receiver.wait(6) == 0, receiver.err
    return Run(sender, receiver, out.read_bytes())


@pytest.mark.parametrize("links", [1, 2, 4])
def test_stream_arrives_byte_identical(runner: Runner, links: int) -> None:
    result = send_and_receive(runner, links)
    sent_count, sent_bytes, sent_sha = result.sender.final()
    got_count, got_bytes, got_sha = result.receiver.final()
    output = result.output
    assert sent_count > 100
    assert (got_count, got_bytes, got_sha) == (sent_count, sent_bytes, sent_sha)
    report = check_ts(output)
    assert report.clean and report.sha256 == sent_sha
    assert output == expected_testsrc(len(output) // CHUNK_BYTES)


def test_every_link_carries_part_of_the_stream(runner: Runner) -> None:
    send_and_receive(runner, 2)
    final = read_jsonl(runner.tmp / "tx.jsonl")[-1]
    assert len(final["links"]) == 2
    assert all(link["sent_packets"] > 0 for link in final["links"])
    received = read_jsonl(runner.tmp / "rx.jsonl")[-1]
    assert len(received["links"]) == 2
    assert all(link["has_return_path"] for link in received["links"])


def test_stats_lines_follow_the_schema(runner: Runner) -> None:
    send_and_receive(runner, 2)
    validator = jsonschema.Draft202012Validator(
        json.loads(SCHEMA.read_text(encoding="utf-8"))
    )
    for name, role in (("tx.jsonl", "sender"), ("rx.jsonl", "receiver")):
        snapshots = read_jsonl(runner.tmp / name)
        assert len(snapshots) >= 3
        for snapshot in snapshots:
            validator.validate(snapshot)
            assert snapshot["role"] == role
        assert [s["seq"] for s in snapshots] == sorted({s["seq"] for s in snapshots})
