"""Run ``ristbond send`` → ``ristbond netem`` relays → ``ristbond receive`` as processes.

Every process is started here and ended here by its PID; ports come from 23000–23999
on 127.0.0.1 (or live inside network namespaces the test creates).
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ristbond_core.runtime.testsrc import CHUNK_BYTES, check_ts, expected_testsrc

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "ristbond_core" / "cli"
HOST = "127.0.0.1"


def require_send_receive() -> None:
    """Skip until the ``send`` and ``receive`` subcommands exist."""
    if not (CLI / "send_cmd.py").exists() or not (CLI / "receive_cmd.py").exists():
        pytest.skip("ristbond send/receive not available")


def ristbond_argv(*args: str, netns: str | None = None) -> list[str]:
    """The command line of one ``ristbond`` subcommand, optionally inside a namespace."""
    argv = [sys.executable, "-m", "ristbond_core.cli", *args]
    return ["ip", "netns", "exec", netns, *argv] if netns else argv


@dataclass
class Proc:
    """A started process and where its output goes."""

    name: str
    popen: subprocess.Popen[str]
    log: Path

    def text(self) -> str:
        """Everything it printed so far (stdout and stderr together)."""
        return self.log.read_text(encoding="utf-8", errors="replace")


class Processes:
    """Starts processes and, in ``stop_all``, ends each one it started by PID."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Proc] = []

    def start(self, name: str, argv: Sequence[str]) -> Proc:
        log = self.workdir / f"{name}.log"
        with log.open("w", encoding="utf-8") as sink:
            popen = subprocess.Popen(list(argv), stdout=sink, stderr=subprocess.STDOUT,
                                     text=True, cwd=REPO)
        proc = Proc(name, popen, log)
        self.started.append(proc)
        return proc

    def wait_for_text(self, proc: Proc, needle: str, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if needle in proc.text():
                return
            if proc.popen.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{proc.name} did not print {needle!r}:\n{proc.text()}")

    def wait(self, proc: Proc, timeout_s: float) -> int:
        try:
            return proc.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{proc.name} did not end in {timeout_s} s:\n{proc.text()}"
                                 ) from None

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in reversed(self.started):
            try:
                proc.popen.wait(10)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(10)


@contextmanager
def processes(workdir: Path) -> Iterator[Processes]:
    """A ``Processes`` whose every process is ended when the block exits."""
    group = Processes(workdir)
    try:
        yield group
    finally:
        group.stop_all()


def netem_argv(listen: str, forward: str, *, delay: str, jitter: str, loss: str, seed: int,
               control: str | None = None, rate: str | None = None,
               netns: str | None = None) -> list[str]:
    """A relay for one link with the given impairments (both directions)."""
    args = ["netem", "--listen", listen, "--forward", forward, "--delay", delay,
            "--jitter", jitter, "--loss", loss, "--seed", str(seed), "--json"]
    if rate is not None:
        args += ["--rate", rate]
    if control is not None:
        args += ["--control", control]
    return ristbond_argv(*args, netns=netns)


@dataclass(frozen=True)
class StreamVerdict:
    """How the received file compares with the test stream the sender produced."""

    chunks: int  # whole 7-packet chunks received
    first_index: int  # index of the first chunk received
    gaps: list[tuple[int, int]]  # (after index, next index) where chunks are missing
    foreign_chunks: int  # chunks that are not any testsrc chunk
    cc_errors: int
    sync_errors: int


def verdict(data: bytes) -> StreamVerdict:
    """Split the output into chunks, find each one's index and compare it byte for byte."""
    whole = len(data) - len(data) % CHUNK_BYTES
    chunks = [data[offset:offset + CHUNK_BYTES] for offset in range(0, whole, CHUNK_BYTES)]
    # The first packet's payload starts with its packet number (chunk index × 7).
    numbers = [int.from_bytes(chunk[4:12], "big") for chunk in chunks]
    plausible = [n // 7 for n in numbers if n % 7 == 0 and n // 7 < 10 * (len(chunks) + 1)]
    reference = expected_testsrc(max(plausible) + 1) if plausible else b""
    indexes: list[int] = []
    foreign = 0
    for chunk, number in zip(chunks, numbers, strict=True):
        index = number // 7
        start = index * CHUNK_BYTES
        if number % 7 or reference[start:start + CHUNK_BYTES] != chunk:
            foreign += 1
            continue
        indexes.append(index)
    gaps = [(a, b) for a, b in itertools.pairwise(indexes) if b != a + 1]
    check = check_ts(data)
    return StreamVerdict(
        chunks=len(indexes),
        first_index=indexes[0] if indexes else -1,
        gaps=gaps,
        foreign_chunks=foreign,
        cc_errors=check.cc_errors,
        sync_errors=check.sync_errors,
    )


def final_counts(text: str, role: str) -> dict[str, Any]:
    """Datagrams, bytes and sha256 from a send/receive final summary line."""
    word = "input" if role == "send" else "output"
    match = re.search(rf"ristbond {role}: .*?{word} (\d+) datagrams (\d+) bytes sha256 (\w+)",
                      text)
    if match is None:
        return {}
    return {"datagrams": int(match.group(1)), "bytes": int(match.group(2)),
            "sha256": match.group(3)}


def read_stats(path: Path) -> list[dict[str, Any]]:
    """Every snapshot in a stats JSON-lines file (a torn last line is ignored)."""
    snapshots: list[dict[str, Any]] = []
    if not path.exists():
        return snapshots
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            snapshots.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return snapshots


def link_states(snapshots: list[dict[str, Any]], link_id: str) -> list[str]:
    """The link's lifecycle state in each snapshot, consecutive repeats collapsed."""
    states: list[str] = []
    for snapshot in snapshots:
        for link in snapshot.get("links", []):
            if link.get("id") == link_id and (not states or states[-1] != link["state"]):
                states.append(link["state"])
    return states


# A receiver learns where a stream starts from the first packet it gets and cannot
# tell that packets after the last one it got are missing (no later sequence number
# reveals the gap), so a loss in the very first or very last packets is not repaired
# by ARQ. Everything in between must arrive complete and byte-identical.
EDGE_CHUNKS = 2


_SKIPPED = re.compile(r"PacketSkipped\(first_seq=(\d+), count=(\d+)")
_SEQ_FIELD = re.compile(r"\b(?:first_)?seq=(\d+)(?:, count=(\d+))?")
#: Lines of the debug event log a failure shows at most, so its message stays readable.
STORY_LINES = 60


def gap_story(send_log: str, receive_log: str) -> str:
    """What the debug event logs (``ristbond -v``) say about each packet the receiver
    skipped: its NACKs, the retransmissions and the link changes around them.

    Sequence numbers are compared modulo 2^16, as the two sides extend them apart.
    """
    skipped: set[int] = set()
    for match in _SKIPPED.finditer(receive_log):
        first, count = int(match.group(1)), int(match.group(2))
        skipped.update((first + i) & 0xFFFF for i in range(min(count, 8)))
    if not skipped:
        return "no skipped packet in the receiver's event log"

    def about_a_skipped_seq(line: str) -> bool:
        for match in _SEQ_FIELD.finditer(line):
            first, count = int(match.group(1)), int(match.group(2) or 1)
            if any((seq - first) & 0xFFFF < count for seq in skipped):
                return True
        return False

    lines = [f"send: {line}" for line in send_log.splitlines()
             if ("link " in line and " -> " in line) or about_a_skipped_seq(line)]
    lines += [f"receive: {line}" for line in receive_log.splitlines()
              if about_a_skipped_seq(line)]
    return "\n".join([f"skipped seqs {sorted(skipped)}:", *lines[:STORY_LINES]])


def assert_whole_stream(output: bytes, send_log: str, receive_log: str) -> None:
    """The output is the sender's stream: no gap, no CC error, identical bytes.

    Up to ``EDGE_CHUNKS`` chunks may be missing at the very start or end (see above);
    when none are, the receiver's hash must equal the sender's.
    """
    sent = final_counts(send_log, "send")
    received = final_counts(receive_log, "receive")
    assert sent, send_log
    assert received, receive_log
    assert sent["bytes"] > 0 and sent["bytes"] % CHUNK_BYTES == 0
    found = verdict(output)
    assert (found.gaps, found.foreign_chunks) == ([], 0), (
        f"{found}\n{gap_story(send_log, receive_log)}")
    assert (found.cc_errors, found.sync_errors) == (0, 0), found
    head = found.first_index
    tail = sent["bytes"] // CHUNK_BYTES - (found.first_index + found.chunks)
    assert 0 <= head <= EDGE_CHUNKS and 0 <= tail <= EDGE_CHUNKS, (found, sent)
    reference = expected_testsrc(head + found.chunks)[head * CHUNK_BYTES:]
    assert output == reference
    if head == tail == 0:
        assert received["sha256"] == sent["sha256"]
    else:
        print(f"stream edges not repaired: {head} chunk(s) at the start, {tail} at the end")

