"""The live demo: real processes and sockets on loopback, impaired by the relay.

The demo process is both ends of the stream, so it can measure what a viewer would:
it sends a numbered TS-shaped stream into ``ristbond send``'s UDP input, which bonds
it over three links through ``ristbond netem``-style relays (two LTE modems and a
WiFi hotspot, one modem dropping out for a while) to ``ristbond receive``, whose UDP
output comes back here. Every chunk's send and arrival time gives the real
end-to-end latency; the stats both nodes write give the per-link picture.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ristbond_core.errors import RistbondError
from ristbond_core.relay.relay import Relay
from ristbond_core.relay.spec import links_from_document
from ristbond_core.runtime.report import render_view
from ristbond_core.sim.pair import ts_payload

CHUNK_BYTES = 1316
#: Two LTE modems and a WiFi hotspot, as a field unit sees them.
LINKS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("lte-a", {"rate": "6mbit", "delay": "35ms", "jitter": "10ms", "loss": "2%", "queue": 80}),
    ("lte-b", {"rate": "3mbit", "delay": "60ms", "jitter": "20ms", "loss": "4%", "queue": 60}),
    ("wifi", {"rate": "8mbit", "delay": "15ms", "jitter": "4ms", "loss": "1%", "queue": 100}),
)
OUTAGE_LINK = "lte-b"
OUTAGE_S = 3.0


@dataclass(slots=True)
class DemoRun:
    """What the source sent and the sink received, with times."""

    sent_ns: dict[int, int] = field(default_factory=dict)
    received_ns: dict[int, int] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)
    duplicates: int = 0
    foreign: int = 0


def _udp(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    return sock


def _even_pair() -> int:
    """A free even UDP port P with P+1 free too (RTP and RTCP)."""
    for _ in range(500):
        with _udp() as probe:
            port = probe.getsockname()[1] & ~1
        try:
            with _udp(port), _udp(port + 1):
                return int(port)
        except OSError:
            continue
    raise RistbondError("demo: no free UDP port pair on 127.0.0.1")


def _chunk_index(data: bytes) -> int | None:
    """The chunk number ``ts_payload`` wrote after the first TS header, if intact."""
    if len(data) != CHUNK_BYTES or data[0] != 0x47:
        return None
    return int.from_bytes(data[4:12], "big")


def _source(target: int, packets_per_s: float, seconds: float, run: DemoRun,
            stop: threading.Event) -> None:
    interval = 1.0 / packets_per_s
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        start = time.monotonic()
        for index in range(int(seconds * packets_per_s)):
            due = start + index * interval
            delay = due - time.monotonic()
            if delay > 0 and stop.wait(delay):
                return
            run.sent_ns[index] = time.monotonic_ns()
            sock.sendto(ts_payload(index, CHUNK_BYTES), ("127.0.0.1", target))


def _sink(sock: socket.socket, run: DemoRun, stop: threading.Event) -> None:
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            return
        index = _chunk_index(data)
        if index is None:
            run.foreign += 1
        elif index in run.received_ns:
            run.duplicates += 1
        else:
            run.received_ns[index] = time.monotonic_ns()
            run.order.append(index)


def _last_snapshot(path: Path) -> dict[str, Any] | None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        with contextlib.suppress(ValueError):
            snapshot: dict[str, Any] = json.loads(line)
            return snapshot
    return None


def _read_snapshots(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    snapshots = []
    for line in lines:
        with contextlib.suppress(ValueError):
            snapshots.append(json.loads(line))
    return snapshots


@contextlib.contextmanager
def _process(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A ristbond subcommand, stopped with SIGINT (then killed) when the block ends."""
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "ristbond_core.cli", *args],
                                stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def run_live(*, duration_s: float, bitrate_kbps: int, latency_ms: int, scheduler: str,
             seed: int, plot: Path | None, out: IO[str]) -> int:
    """Run the live demo and print the live view and the summary to ``out``."""
    packets_per_s = bitrate_kbps * 1000 / (CHUNK_BYTES * 8)
    receiver_port = _even_pair()
    relay_ports = [_even_pair() for _ in LINKS]
    sink = _udp()
    sink_port = sink.getsockname()[1]
    with _udp() as probe:
        input_port = probe.getsockname()[1]
    document = {"links": [
        {"name": name, "listen": f"127.0.0.1:{port}", "forward": f"127.0.0.1:{receiver_port}",
         **impairments}
        for (name, impairments), port in zip(LINKS, relay_ports, strict=True)
    ]}
    relay = Relay(links_from_document(document, "demo"), seed=seed)
    run = DemoRun()
    stop = threading.Event()
    tty = out.isatty()
    outage_from = duration_s * 0.4
    print(f"ristbond demo: {bitrate_kbps} kbit/s testsrc over 3 links through the relay on "
          f"loopback, scheduler {scheduler!r}, latency {latency_ms} ms, {duration_s:g} s "
          f"({OUTAGE_LINK} drops out at {outage_from:g}-{outage_from + OUTAGE_S:g} s)",
          file=out, flush=True)
    with tempfile.TemporaryDirectory(prefix="ristbond-demo-") as tmp_name:
        tmp = Path(tmp_name)
        tx_stats, rx_stats = tmp / "tx.jsonl", tmp / "rx.jsonl"
        links = [f"rist://127.0.0.1:{port}?id={name}"
                 for (name, _), port in zip(LINKS, relay_ports, strict=True)]
        relay.start()
        sink_thread = threading.Thread(target=_sink, args=(sink, run, stop), daemon=True)
        sink_thread.start()
        try:
            with _process(["receive", "--listen", f"rist://@127.0.0.1:{receiver_port}",
                           "--output", f"udp://127.0.0.1:{sink_port}", "--latency-ms",
                           str(latency_ms), "--stats-json", str(rx_stats),
                           "--stats-interval-ms", "500", "--duration", str(duration_s + 20)],
                          tmp / "receiver.log") as receiver, \
                 _process(["send", "--input", f"udp://@127.0.0.1:{input_port}",
                           *[arg for link in links for arg in ("--link", link)],
                           "--scheduler", scheduler, "--latency-ms", str(latency_ms),
                           "--stats-json", str(tx_stats), "--stats-interval-ms", "500",
                           "--duration", str(duration_s + 3)],
                          tmp / "sender.log") as sender:
                _wait_bound(receiver_port, receiver, tmp / "receiver.log")
                _wait_bound(input_port, sender, tmp / "sender.log")
                time.sleep(0.5)  # the links exchange their first RTCP
                source = threading.Thread(
                    target=_source, args=(input_port, packets_per_s, duration_s, run, stop),
                    daemon=True)
                source.start()
                _watch(relay, source, tx_stats=tx_stats, duration_s=duration_s,
                       outage_from=outage_from, tty=tty, out=out)
                source.join()
                time.sleep(latency_ms / 1000 + 1.5)  # the tail plays out
        finally:
            stop.set()
            relay.stop()
            sink_thread.join(timeout=2)
            sink.close()
        sent_snaps, received_snaps = _read_snapshots(tx_stats), _read_snapshots(rx_stats)
        if not sent_snaps or not received_snaps:
            raise RistbondError("demo: the sender or receiver wrote no stats; see its log:\n"
                                + (tmp / "sender.log").read_text(errors="replace")[-2000:])
        relay_stats = relay.stats()
    print(summary(run, sent_snaps, received_snaps, relay_stats), file=out, flush=True)
    if plot is not None:
        print(_plot(plot, sent_snaps, received_snaps, outage_from), file=out, flush=True)
    read = int(sent_snaps[-1]["flow"]["input_datagrams"]) if sent_snaps else 0
    return 0 if read and len(run.received_ns) >= read else 1


def _wait_bound(port: int, proc: subprocess.Popen[bytes], log: Path,
                limit_s: float = 30.0) -> None:
    """Wait until ``proc`` holds UDP ``port`` (it is up); fail with its log if it died."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = log.read_text(encoding="utf-8", errors="replace").strip()
            raise RistbondError(f"demo: a ristbond process stopped at once:\n{text}")
        try:
            with _udp(port):
                pass
        except OSError:
            return  # taken: the process has bound it
        time.sleep(0.05)
    raise RistbondError(f"demo: nothing bound UDP port {port} within {limit_s:g} s")


def _watch(relay: Relay, source: threading.Thread, *, tx_stats: Path, duration_s: float,
           outage_from: float, tty: bool, out: IO[str]) -> None:
    """Follow the run: the scripted outage, and the sender's view once a second."""
    start = time.monotonic()
    outage = relay.link(OUTAGE_LINK)
    state = "before"
    deadline = start + duration_s + 5
    while source.is_alive() and time.monotonic() < deadline:
        elapsed = time.monotonic() - start
        if state == "before" and elapsed >= outage_from:
            outage.set_up(False)
            state = "during"
        elif state == "during" and elapsed >= outage_from + OUTAGE_S:
            outage.set_up(True)
            state = "after"
        snapshot = _last_snapshot(tx_stats)
        if snapshot is not None:
            lines = render_view(snapshot)
            if tty:
                out.write("\x1b[2J\x1b[H" + "\n".join(lines) + "\n")
            elif int(elapsed) % 5 == 0:
                out.write(f"  {elapsed:5.1f} s  " + " | ".join(
                    f"{link['id']} {link['state']}" for link in snapshot["links"]) + "\n")
            out.flush()
        time.sleep(1.0)
    outage.set_up(True)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(run: DemoRun, sent: list[dict[str, Any]], received: list[dict[str, Any]],
            relay: dict[str, Any]) -> str:
    """What was delivered, what ARQ did, the real latency, and each link's part."""
    delivered = len(run.received_ns)
    sender_flow = sent[-1]["flow"] if sent else {}
    # Judge the bond on what entered it: a datagram the source sent that the sender's
    # input socket never read (a busy machine) is not the bond's loss.
    total = min(len(run.sent_ns), int(sender_flow.get("input_datagrams", len(run.sent_ns))))
    before_input = len(run.sent_ns) - total
    in_order = run.order == sorted(run.order)
    latencies = [(run.received_ns[i] - run.sent_ns[i]) / 1e6 for i in run.received_ns
                 if i in run.sent_ns]
    flow = received[-1]["flow"] if received else {}
    lines = [
        "",
        f"  delivered        {delivered} of {total} chunks"
        f" ({'complete, in order' if delivered == total and in_order else 'INCOMPLETE'})",
        f"  recovered by ARQ {flow.get('recovered', 0)} packets"
        f" ({sender_flow.get('retransmitted', 0)} retransmissions)",
        f"  residual loss    {max(0, total - delivered)} chunks"
        f" ({100.0 * max(0, total - delivered) / max(1, total):.3f} %)",
    ]
    missing = _missing_chunks(run, total)
    if missing:
        lines.append(f"  missing chunks   {missing}")
    if before_input:
        lines.append(f"  not counted      {before_input} chunks the sender's input socket never "
                     "read (dropped by the local machine before ristbond)")
    if latencies:
        lines.append(f"  output latency   p50 {statistics.median(latencies):.0f} ms, "
                     f"p95 {_percentile(latencies, 0.95):.0f} ms (measured end to end)")
    if sent:
        links = sent[-1]["links"]
        total_sent = sum(link["sent_packets"] for link in links) or 1
        lines.append("")
        lines.append(f"  {'link':8} {'share':>6} {'state':>9} {'rtt ms':>7} "
                     f"{'relay loss':>10} {'outage':>7}")
        relayed = {entry["name"]: entry for entry in relay.get("links", [])}
        for link in links:
            counters = relayed.get(link["id"], {}).get("forward", {})
            offered = max(1, int(counters.get("received", 0)))
            lost = int(counters.get("dropped_loss", 0)) + int(counters.get("dropped_queue", 0))
            rtt = f"{link['rtt_ms']:.0f}" if link["rtt_ms"] is not None else "-"
            lines.append(
                f"  {link['id']:8} {100 * link['sent_packets'] / total_sent:5.1f}%"
                f" {link['state']:>9} {rtt:>7} {100 * lost / offered:9.1f}%"
                f" {int(counters.get('dropped_outage', 0)):>7}"
            )
        lines.append("")
        lines.append("  lifecycle: " + _state_history(sent))
    return "\n".join(lines)


def _missing_chunks(run: DemoRun, total: int, shown: int = 5) -> str:
    """The first chunks that never arrived, with when they were sent (s after the first)."""
    indices = sorted(run.sent_ns)[:total]
    lost = [i for i in indices if i not in run.received_ns]
    if not lost or not indices:
        return ""
    start = run.sent_ns[indices[0]]
    named = ", ".join(f"#{i} at {(run.sent_ns[i] - start) / 1e9:.2f} s" for i in lost[:shown])
    more = f" and {len(lost) - shown} more" if len(lost) > shown else ""
    return named + more


def _state_history(snapshots: list[dict[str, Any]]) -> str:
    """Each link's sequence of lifecycle states over the run."""
    history: dict[str, list[str]] = {}
    for snapshot in snapshots:
        for link in snapshot["links"]:
            states = history.setdefault(link["id"], [])
            if not states or states[-1] != link["state"]:
                states.append(link["state"])
    return "; ".join(f"{name} {' > '.join(states)}" for name, states in history.items())


def _plot(path: Path, sent: list[dict[str, Any]], received: list[dict[str, Any]],
          outage_from: float) -> str:
    """Per-link rate and RTT, and the receiver's buffer, over the run, as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "  plot skipped: install matplotlib (pip install matplotlib) for the picture"
    if len(sent) < 2:
        return "  plot skipped: too few stats snapshots"
    t0 = sent[0]["monotonic_ns"]
    fig, (rate_ax, rtt_ax, buffer_ax) = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    names = [link["id"] for link in sent[-1]["links"]]
    for name in names:
        times, rates, rtts = [], [], []
        previous: tuple[int, int] | None = None
        for snapshot in sent:
            link = next((x for x in snapshot["links"] if x["id"] == name), None)
            if link is None:
                continue
            now = snapshot["monotonic_ns"]
            if previous is not None and now > previous[0]:
                times.append((now - t0) / 1e9)
                rates.append((link["sent_bytes"] - previous[1]) * 8 / ((now - previous[0]) / 1e9)
                             / 1e6)
                rtts.append(link["rtt_ms"] if link["rtt_ms"] is not None else float("nan"))
            previous = (now, link["sent_bytes"])
        rate_ax.plot(times, rates, label=name)
        rtt_ax.plot(times, rtts, label=name)
    buffer_times = [(s["monotonic_ns"] - received[0]["monotonic_ns"]) / 1e9 for s in received]
    buffer_ax.plot(buffer_times, [s["flow"]["buffer_ms"] for s in received], color="black")
    buffer_ax.set_ylim(bottom=0)
    for ax in (rate_ax, rtt_ax, buffer_ax):
        ax.axvspan(outage_from, outage_from + OUTAGE_S, color="red", alpha=0.1)
        ax.grid(alpha=0.3)
    rate_ax.set_ylabel("sent Mbit/s")
    rate_ax.legend(loc="upper right")
    rtt_ax.set_ylabel("RTT ms")
    buffer_ax.set_ylabel("receiver buffer ms\n(media held ahead)")
    buffer_ax.set_xlabel(f"seconds (shaded: {OUTAGE_LINK} outage)")
    fig.suptitle("ristbond demo: three bonded links through the relay")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return f"  plot written to {path}"


def default_plot_path() -> Path:
    """``ristbond-demo.png`` in the current directory."""
    return Path(os.getcwd()) / "ristbond-demo.png"
