"""CPU cost of ``ristbond send``/``ristbond receive`` next to librist's tools.

Run: ``python benchmarks/bench_cpu.py [--rates 10,50,200] [--seconds 10] [--repeats 2]
[--bonding duplicate|split] [--json FILE|-]``.

Every point is one chain on 127.0.0.1::

    UDP source (Python, paced) -> sender -> 2 RIST links -> receiver -> UDP sink (counts)

run once with ``ristbond send``/``ristbond receive`` and once with librist's
``ristsender``/``ristreceiver`` (simple profile, both links aimed at one receiver port),
fed by the same source process code at the same rate. The two implementations alternate
(ABBA order over the repeats) so both see similar machine load.

CPU is user+system time of the sender and receiver processes read from
``/proc/PID/stat`` over a steady-state window (after a warm-up, so start-up and imports
are not counted), shown as percent of one core. Each figure is the median over the
repeats; the ratio column is ristbond / librist of those medians. Delivery is datagrams
reaching the sink over datagrams the source sent during the whole run.

``--bonding duplicate`` (default) sends every packet on both links in both
implementations (ristbond ``--scheduler broadcast``, librist ``weight=0``): the same
number of packets on the wire. ``--bonding split`` shares the packets between the links
(ristbond's default ``dwrr``, librist ``weight=5``; note librist 0.2.7's simple profile
then skips about one packet in six on first transmission and repairs it by NACK).

``--profile-send FILE`` instead runs one ristbond point under cProfile (sender only) and
writes the profile to FILE; read it with ``python -m pstats FILE``.

Only processes started here are ever signalled (by PID), every wait is bounded and all
traffic stays on 127.0.0.1, ports 25000-25999.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

HOST = "127.0.0.1"
PORT_FIRST = 25000
PORT_LAST = 25999
PORTS_PER_RUN = 8
DATAGRAM = 1316
CLK_TCK = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
IMPLEMENTATIONS = ("ristbond", "librist")


# ---------------------------------------------------------------- helper processes


def run_source(port: int, kbps: float, seconds: float) -> None:
    """Send 1316-byte TS-like datagrams to ``port`` at ``kbps`` for ``seconds``; print count."""
    from ristbond_core.runtime.testsrc import make_testsrc_chunk

    # 16 chunks = 112 TS packets: continuity counters stay consistent across the wrap.
    chunks = [make_testsrc_chunk(i) for i in range(16)]
    rate = kbps * 1000.0 / 8.0 / DATAGRAM
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    target = (HOST, port)
    errors = sent = 0
    start = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
        due = int(elapsed * rate)
        while sent < due:
            try:
                sock.sendto(chunks[sent & 15], target)
            except OSError:
                errors += 1
            sent += 1
        time.sleep(0.0005)
    sock.close()
    print(json.dumps({"sent": sent, "errors": errors}), flush=True)


def run_sink(port: int, limit: float) -> None:
    """Count datagrams arriving on ``port`` until SIGTERM (or ``limit`` seconds); print it."""
    stop = False

    def on_term(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((HOST, port))
    sock.settimeout(0.2)
    buf = bytearray(65536)
    count = size = 0
    print("ready", flush=True)
    deadline = time.monotonic() + limit
    while not stop and time.monotonic() < deadline:
        try:
            n = sock.recv_into(buf)
        except (TimeoutError, InterruptedError):
            continue
        count += 1
        size += n
    sock.close()
    print(json.dumps({"received": count, "bytes": size}), flush=True)


# ---------------------------------------------------------------- process handling


@dataclass
class Started:
    """A child process started by this benchmark, with its captured output."""

    name: str
    proc: subprocess.Popen[bytes]
    log: IO[bytes]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    # After "(comm)": state is field 3, utime field 14, stime field 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def udp_port_bound(port: int) -> bool:
    """Whether some socket on this machine is bound to UDP ``port`` (IPv4)."""
    with open("/proc/net/udp") as f:
        next(f)  # header
        for line in f:
            local = line.split()[1]
            if int(local.rsplit(":", 1)[1], 16) == port:
                return True
    return False


def wait_bound(port: int, who: Started, timeout: float = START_TIMEOUT) -> None:
    """Wait until ``port`` is bound, failing early if ``who`` exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if who.proc.poll() is not None:
            raise RuntimeError(f"{who.name} exited early ({who.proc.returncode}): "
                               f"{tail(who)}")
        if udp_port_bound(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{who.name} did not bind UDP port {port} within {timeout} s")


def start(name: str, argv: list[str], started: list[Started],
          stdout_pipe: bool = False) -> Started:
    """Start ``argv`` with stderr (and stdout unless piped) in a temporary file."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by cleanup()
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if stdout_pipe else log, stderr=log,
    )
    child = Started(name, proc, log)
    started.append(child)
    return child


def tail(child: Started, chars: int = 400) -> str:
    """The last ``chars`` characters of what ``child`` printed."""
    child.log.flush()
    child.log.seek(0)
    text = child.log.read().decode(errors="replace")
    return text[-chars:].strip().replace("\n", " | ")


def stop(child: Started, sig: int = signal.SIGINT, timeout: float = STOP_TIMEOUT) -> None:
    """Signal ``child`` (by PID) and wait; kill it if it does not exit in time."""
    if child.proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        child.proc.send_signal(sig)
    try:
        child.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            child.proc.kill()
        child.proc.wait(5)


def read_json_line(child: Started, timeout: float) -> dict[str, Any]:
    """Wait for ``child`` to exit and parse the last line of its stdout as JSON."""
    assert child.proc.stdout is not None
    try:
        out, _ = child.proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.proc.kill()
        out, _ = child.proc.communicate(timeout=5)
    lines = out.decode(errors="replace").strip().splitlines()
    if not lines:
        raise RuntimeError(f"{child.name} printed nothing: {tail(child)}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def cleanup(started: list[Started]) -> None:
    """Kill and reap whatever of ``started`` still runs; close the logs."""
    for child in reversed(started):
        if child.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(5)
        if child.proc.stdout is not None:
            child.proc.stdout.close()
        child.log.close()


# ---------------------------------------------------------------- one run


@dataclass
class Run:
    """One implementation at one rate, once."""

    impl: str
    mbps: float
    sender_cpu_pct: float
    receiver_cpu_pct: float
    sent: int
    received: int
    window_s: float
    ristbond_links: str = ""

    @property
    def delivery_pct(self) -> float:
        return 100.0 * self.received / self.sent if self.sent else 0.0


@dataclass
class Ports:
    """The ports of one run: receiver RTP (even, RTCP next), sender input, sink."""

    rist: int
    sender_in: int
    sink: int


class PortPlan:
    """Hands out fresh ports from 25000-25999 so no run reuses a recent one."""

    def __init__(self) -> None:
        self.next = PORT_FIRST

    def take(self) -> Ports:
        if self.next + PORTS_PER_RUN > PORT_LAST + 1:
            self.next = PORT_FIRST
        base = self.next
        self.next += PORTS_PER_RUN
        return Ports(rist=base, sender_in=base + 4, sink=base + 6)


@dataclass
class Options:
    """Benchmark settings shared by every run."""

    seconds: float
    warmup: float
    latency_ms: int
    bonding: str
    verbose: bool
    profile_out: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def commands(impl: str, ports: Ports, opt: Options) -> tuple[list[str], list[str]]:
    """Receiver and sender command lines of ``impl``."""
    listen = f"{HOST}:{ports.rist}"
    sink = f"udp://{HOST}:{ports.sink}"
    source = f"udp://@{HOST}:{ports.sender_in}"
    if impl == "ristbond":
        python = [sys.executable]
        receiver = [*python, "-m", "ristbond_core.cli", "receive", "--listen",
                    f"rist://@{listen}", "--output", sink, "--latency-ms", str(opt.latency_ms)]
        scheduler = "broadcast" if opt.bonding == "duplicate" else "dwrr"
        if opt.profile_out is not None:
            python = [sys.executable, "-m", "cProfile", "-o", str(opt.profile_out)]
        sender = [*python, "-m", "ristbond_core.cli", "send", "--input", source,
                  "--link", f"rist://{listen}", "--link", f"rist://{listen}",
                  "--scheduler", scheduler, "--latency-ms", str(opt.latency_ms)]
        if opt.profile_out is not None:
            sender += ["--duration", f"{opt.warmup + opt.seconds + 0.5:g}"]
        return receiver, sender
    weight = 0 if opt.bonding == "duplicate" else 5
    link = f"rist://{listen}?weight={weight}"
    receiver = ["ristreceiver", "-p", "0", "-b", str(opt.latency_ms),
                "-i", f"rist://@{listen}", "-o", sink]
    sender = ["ristsender", "-p", "0", "-b", str(opt.latency_ms), "-i", source,
              "-o", f"{link},{link}"]
    return receiver, sender


def measure(impl: str, mbps: float, ports: Ports, opt: Options) -> Run:
    """Run the chain for ``impl`` at ``mbps`` and measure the sender's and receiver's CPU."""
    script = str(Path(__file__).resolve())
    total = opt.warmup + opt.seconds
    flush = opt.latency_ms / 1000.0 + 1.0
    started: list[Started] = []
    try:
        sink = start("sink", [sys.executable, script, "--_sink", str(ports.sink),
                              f"{total + flush + 60:g}"], started, stdout_pipe=True)
        assert sink.proc.stdout is not None
        if sink.proc.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"sink did not start: {tail(sink)}")
        receiver_argv, sender_argv = commands(impl, ports, opt)
        receiver = start(f"{impl} receiver", receiver_argv, started)
        wait_bound(ports.rist, receiver)
        sender = start(f"{impl} sender", sender_argv, started)
        wait_bound(ports.sender_in, sender)
        source = start("source", [sys.executable, script, "--_source", str(ports.sender_in),
                                  f"{mbps * 1000:g}", f"{total:g}"], started, stdout_pipe=True)
        time.sleep(opt.warmup)
        t0 = time.monotonic()
        s0, r0 = cpu_seconds(sender.proc.pid), cpu_seconds(receiver.proc.pid)
        time.sleep(opt.seconds)
        s1, r1 = cpu_seconds(sender.proc.pid), cpu_seconds(receiver.proc.pid)
        window = time.monotonic() - t0
        sent = int(read_json_line(source, total + 30)["sent"])
        # Let the receiver play out (one latency) and repair the tail, then stop both.
        deadline = time.monotonic() + flush
        while time.monotonic() < deadline and sender.proc.poll() is None:
            time.sleep(0.1)
        stop(sender)
        stop(receiver)
        stop(sink, signal.SIGTERM)
        received = int(read_json_line(sink, STOP_TIMEOUT)["received"])
        links = ""
        if impl == "ristbond":
            # Packets per link from the sender's final line, to show what went on the wire.
            found = re.search(r"links (\S+=\d+(?:, \S+=\d+)*)", tail(sender, 2000))
            links = found.group(1) if found else "?"
        if opt.verbose:
            print(f"    {impl} sender: {tail(sender, 300)}", file=sys.stderr)
            print(f"    {impl} receiver: {tail(receiver, 300)}", file=sys.stderr)
        return Run(impl, mbps, 100.0 * (s1 - s0) / window, 100.0 * (r1 - r0) / window,
                   sent, received, window, links)
    finally:
        cleanup(started)


# ---------------------------------------------------------------- report


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarise(runs: list[Run], rates: list[float]) -> list[dict[str, Any]]:
    """Median figures per rate and implementation, plus the ratios."""
    rows: list[dict[str, Any]] = []
    for mbps in rates:
        row: dict[str, Any] = {"mbps": mbps}
        for impl in IMPLEMENTATIONS:
            mine = [r for r in runs if r.mbps == mbps and r.impl == impl]
            row[impl] = {
                "sender_cpu_pct": median([r.sender_cpu_pct for r in mine]),
                "receiver_cpu_pct": median([r.receiver_cpu_pct for r in mine]),
                "delivery_pct": median([r.delivery_pct for r in mine]),
                "runs": len(mine),
            }
        for part in ("sender_cpu_pct", "receiver_cpu_pct"):
            lib = row["librist"][part]
            row[f"{part.split('_')[0]}_ratio"] = row["ristbond"][part] / lib if lib else None
        rows.append(row)
    return rows


def ratio_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def print_table(rows: list[dict[str, Any]], repeats: int, opt: Options) -> None:
    print(f"\nCPU, % of one core (median of {repeats}), {opt.seconds:g} s window after "
          f"{opt.warmup:g} s warm-up, bonding={opt.bonding}, latency {opt.latency_ms} ms")
    head = (f"{'Mbit/s':>7} | {'send rb':>8} {'send lr':>8} {'ratio':>7} | "
            f"{'recv rb':>8} {'recv lr':>8} {'ratio':>7} | {'deliv rb':>9} {'deliv lr':>9}")
    print(head)
    print("-" * len(head))
    for row in rows:
        rb, lr = row["ristbond"], row["librist"]
        print(f"{row['mbps']:>7g} | {rb['sender_cpu_pct']:>7.1f}% {lr['sender_cpu_pct']:>7.1f}% "
              f"{ratio_text(row['sender_ratio']):>7} | {rb['receiver_cpu_pct']:>7.1f}% "
              f"{lr['receiver_cpu_pct']:>7.1f}% {ratio_text(row['receiver_ratio']):>7} | "
              f"{rb['delivery_pct']:>8.2f}% {lr['delivery_pct']:>8.2f}%")
    print("rb = ristbond, lr = librist (ristsender/ristreceiver -p 0); ratio = rb / lr")


# ---------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="10,50,200", help="Mbit/s, comma separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--repeats", type=int, default=2, help="runs per point (median)")
    parser.add_argument("--latency-ms", type=int, default=1000,
                        help="ristbond --latency-ms and librist -b (buffer)")
    parser.add_argument("--bonding", choices=["duplicate", "split"], default="duplicate",
                        help="every packet on both links, or shared between them")
    parser.add_argument("--only", choices=IMPLEMENTATIONS, help="run one implementation")
    parser.add_argument("--json", metavar="FILE|-", help="also write the results as JSON")
    parser.add_argument("--profile-send", type=Path, metavar="FILE",
                        help="profile ristbond send at the first rate with cProfile instead")
    parser.add_argument("--verbose", action="store_true", help="show each process's last words")
    parser.add_argument("--_source", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--_sink", nargs=2, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args._source:
        run_source(int(args._source[0]), float(args._source[1]), float(args._source[2]))
        return 0
    if args._sink:
        run_sink(int(args._sink[0]), float(args._sink[1]))
        return 0
    rates = [float(x) for x in args.rates.split(",") if x.strip()]
    opt = Options(seconds=args.seconds, warmup=args.warmup, latency_ms=args.latency_ms,
                  bonding=args.bonding, verbose=args.verbose)
    ports = PortPlan()
    if args.profile_send is not None:
        opt.profile_out = args.profile_send.resolve()
        run = measure("ristbond", rates[0], ports.take(), opt)
        print(f"profiled ristbond send at {rates[0]:g} Mbit/s: sender {run.sender_cpu_pct:.1f}% "
              f"(profiling overhead included), delivery {run.delivery_pct:.2f}%; "
              f"profile in {opt.profile_out}")
        return 0
    impls = [args.only] if args.only else list(IMPLEMENTATIONS)
    runs: list[Run] = []
    for mbps in rates:
        for rep in range(args.repeats):
            order = impls if rep % 2 == 0 else impls[::-1]
            for impl in order:
                run = measure(impl, mbps, ports.take(), opt)
                runs.append(run)
                print(f"  {mbps:g} Mbit/s #{rep + 1} {impl:<8} sender {run.sender_cpu_pct:5.1f}%"
                      f"  receiver {run.receiver_cpu_pct:5.1f}%  delivery "
                      f"{run.delivery_pct:6.2f}% ({run.received}/{run.sent}) "
                      f"{run.ristbond_links}",
                      file=sys.stderr, flush=True)
    rows = summarise(runs, rates)
    print_table(rows, args.repeats, opt)
    if args.json:
        doc = {"options": {k: v for k, v in asdict(opt).items() if k != "profile_out"},
               "repeats": args.repeats, "cores": os.cpu_count(), "points": rows,
               "runs": [{**asdict(r), "delivery_pct": r.delivery_pct} for r in runs]}
        text = json.dumps(doc, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
