"""``ristbond stats``: a live view of a node's ``json-udp`` snapshots.

Point a sender's or receiver's ``json-udp`` exporter at this command's ``--listen``
address and it shows every link (state, share, RTT, loss, capacity, rate) and the
flow's loss and buffer. On a terminal the view redraws in place; otherwise (a pipe,
a log file) each snapshot is printed as a plain text block, or as JSON with
``--json``.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from ristbond_core.errors import RistbondError
from ristbond_core.telemetry.json_udp import SnapshotAssembler, parse_address

LISTEN = re.compile(r"^udp://@?(?P<address>.+)$")
CLEAR_SCREEN = "\x1b[H\x1b[2J"
RECV_BYTES = 65_535
NodeKey = tuple[str, str]  # (source address, role)


def parse_listen(url: str) -> tuple[str, int]:
    """``udp://@HOST:PORT`` → (host, port); a clear error naming the flag otherwise."""
    match = LISTEN.match(url.strip())
    try:
        if match is None:
            raise ValueError("the scheme must be udp://")
        return parse_address(match.group("address"))
    except ValueError as exc:
        raise RistbondError(
            f"--listen {url!r}: expected udp://@HOST:PORT (e.g. udp://@127.0.0.1:9000): {exc}"
        ) from None


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        "stats", help="show live per-link stats a node sends with the json-udp exporter"
    )
    parser.add_argument("--listen", default="udp://@127.0.0.1:9000",
                        help="where the json-udp exporter sends (default udp://@127.0.0.1:9000)")
    parser.add_argument("--once", action="store_true",
                        help="print the first complete snapshot and exit")
    parser.add_argument("--json", action="store_true",
                        help="print each snapshot as one JSON line instead of a table")
    parser.add_argument("--duration", type=float, default=None,
                        help="stop after this many seconds (default: until interrupted; "
                             "with --once: wait at most 10 s)")
    parser.set_defaults(run=run)


# --- rendering -------------------------------------------------------------------------


def _num(value: Any, fmt: str = "{:.0f}", scale: float = 1.0) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-"
    return fmt.format(value * scale)


def _rate(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.extend("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                 for r in rows)
    return lines


def _link_rates(snapshot: Mapping[str, Any], previous: Mapping[str, Any] | None,
                counter: str) -> dict[str, float]:
    """bits/s per link from the change of ``counter`` since ``previous``."""
    if previous is None:
        return {}
    elapsed_ns = int(snapshot.get("monotonic_ns", 0)) - int(previous.get("monotonic_ns", 0))
    if elapsed_ns <= 0:
        return {}
    before = {str(link.get("id")): link.get(counter) for link in previous.get("links", [])}
    rates: dict[str, float] = {}
    for link in snapshot.get("links", []):
        old, new = before.get(str(link.get("id"))), link.get(counter)
        if isinstance(old, int) and isinstance(new, int) and new >= old:
            rates[str(link.get("id"))] = (new - old) * 8e9 / elapsed_ns
    return rates


def _net_lost(link: Mapping[str, Any]) -> int | None:
    """Attempts the receiver NACKed on the link, less those that arrived after all."""
    charged, late = link.get("attributed_losses"), link.get("late_originals", 0)
    if not isinstance(charged, int) or not isinstance(late, int):
        return None
    return max(0, charged - late)


def render_sender(snapshot: Mapping[str, Any], previous: Mapping[str, Any] | None) -> list[str]:
    """Per-link table and flow line of a sender snapshot."""
    flow = snapshot.get("flow", {})
    rates = _link_rates(snapshot, previous, "sent_bytes")
    rows = [
        [str(link.get("id")), str(link.get("state")), _num(link.get("share"), "{:.0f}%", 100),
         _num(link.get("rtt_ms")), _num(link.get("loss"), "{:.1f}%", 100),
         _num(link.get("jitter_ms"), "{:.1f}"), _rate(link.get("capacity_bps")),
         _rate(rates.get(str(link.get("id")))), _num(link.get("sent_packets")),
         _num(link.get("retransmitted")), _num(_net_lost(link))]
        for link in snapshot.get("links", [])
    ]
    lines = _table(["LINK", "STATE", "SHARE", "RTT ms", "LOSS", "JITTER", "CAPACITY b/s",
                    "RATE b/s", "SENT", "RETX", "LOST"], rows)
    lines.append(
        f"flow: sent {_num(flow.get('packets_sent'))} pkts, retransmitted "
        f"{_num(flow.get('retransmitted'))}, NACKs {_num(flow.get('nacks_received'))}, "
        f"too late {_num(flow.get('retransmit_too_late'))}; retransmit store "
        f"{_num(flow.get('store_packets'))} pkts / {_rate(flow.get('store_bytes'))}B"
    )
    return lines


def render_receiver(snapshot: Mapping[str, Any],
                    previous: Mapping[str, Any] | None) -> list[str]:
    """Per-link table and flow line of a receiver snapshot."""
    flow = snapshot.get("flow", {})
    rates = _link_rates(snapshot, previous, "received_bytes")
    rows = [
        [str(link.get("id")), _num(link.get("rtt_ms")), _num(link.get("jitter_ms"), "{:.1f}"),
         _num(link.get("extra_delay_ms")), _rate(rates.get(str(link.get("id")))),
         _num(link.get("received_packets")), _num(link.get("retransmits_received")),
         _num(link.get("duplicates")), _num(link.get("last_packet_age_ms"))]
        for link in snapshot.get("links", [])
    ]
    lines = _table(["LINK", "RTT ms", "JITTER", "+DELAY ms", "RATE b/s", "RECEIVED", "RETX",
                    "DUP", "LAST PKT ms"], rows)
    lines.append(
        f"flow: received {_num(flow.get('received'))}, recovered "
        f"{_num(flow.get('recovered'))}, lost (residual) {_num(flow.get('lost'))}, late "
        f"{_num(flow.get('late'))}, duplicate {_num(flow.get('duplicate'))}; buffer "
        f"{_num(flow.get('buffer_ms'))} ms / {_num(flow.get('buffer_packets'))} pkts"
    )
    return lines


def render_snapshot(snapshot: Mapping[str, Any], source: str = "",
                    previous: Mapping[str, Any] | None = None) -> str:
    """One node's snapshot as a text block (header, link table, flow line)."""
    role = str(snapshot.get("role", "?"))
    uptime_s = _num(snapshot.get("uptime_ms"), "{:.1f}", 1e-3)
    derived = snapshot.get("derived", {})
    origin = f" from {source}" if source else ""
    head = (f"{role}{origin}  seq {snapshot.get('seq')}  uptime {uptime_s} s  "
            f"latency {_num(derived.get('latency_ms'))} ms  rtt {_num(derived.get('rtt_ms'))} ms")
    if role == "sender":
        body = render_sender(snapshot, previous)
    elif role == "receiver":
        body = render_receiver(snapshot, previous)
    else:
        body = [f"(unknown role {role!r})"]
    if snapshot.get("trimmed_links"):
        body.append(f"links too large to send: {', '.join(map(str, snapshot['trimmed_links']))}")
    return "\n".join([head, *body])


# --- the loop --------------------------------------------------------------------------


@dataclass
class LiveView:
    """The latest snapshot of every node heard from, and the one before (for rates)."""

    latest: dict[NodeKey, dict[str, Any]] = field(default_factory=dict)
    previous: dict[NodeKey, dict[str, Any]] = field(default_factory=dict)

    def take(self, key: NodeKey, snapshot: dict[str, Any]) -> None:
        """Record a snapshot; an older or repeated seq (reordered datagram) is ignored."""
        current = self.latest.get(key)
        seq = int(snapshot.get("seq", 0))
        # A stale (reordered) datagram is ignored; seq 1 again means the node restarted.
        if current is not None and 1 < seq <= int(current.get("seq", 0)):
            return
        if current is not None:
            self.previous[key] = current
        self.latest[key] = snapshot

    def render(self) -> str:
        """Every node's block, in a stable order."""
        return "\n\n".join(
            render_snapshot(self.latest[key], key[0], self.previous.get(key))
            for key in sorted(self.latest)
        )


def _open_socket(host: str, port: int) -> socket.socket:
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
    except OSError as exc:
        raise RistbondError(f"--listen {host}:{port}: {exc}") from None
    try:
        sock.bind(sockaddr)
    except OSError as exc:
        sock.close()
        raise RistbondError(
            f"--listen {host}:{port}: cannot bind: {exc.strerror or exc} "
            "(is another 'ristbond stats' listening there?)"
        ) from None
    return sock


def run(args: argparse.Namespace) -> int:
    """Listen, reassemble, render; exit 0, or 1 when ``--once`` heard nothing in time."""
    host, port = parse_listen(args.listen)
    duration = args.duration
    if duration is None and args.once:
        duration = 10.0
    if duration is not None and duration <= 0:
        raise RistbondError("stats: --duration must be > 0")
    out: IO[str] = sys.stdout
    interactive = out.isatty() and not args.json
    sock = _open_socket(host, port)
    try:
        return _listen(sock, out, Mode(args.once, args.json, interactive), duration)
    finally:
        sock.close()


@dataclass(frozen=True, slots=True)
class Mode:
    """How to print: stop after one snapshot, JSON lines, redraw in place."""

    once: bool
    as_json: bool
    interactive: bool


def _listen(sock: socket.socket, out: IO[str], mode: Mode, duration: float | None) -> int:
    once = mode.once
    deadline = None if duration is None else time.monotonic() + duration
    assembler = SnapshotAssembler()
    view = LiveView()
    while deadline is None or time.monotonic() < deadline:
        wait = 0.5 if deadline is None else max(0.01, min(0.5, deadline - time.monotonic()))
        sock.settimeout(wait)
        try:
            data, peer = sock.recvfrom(RECV_BYTES)
        except TimeoutError:
            continue
        except OSError:
            continue  # e.g. ICMP errors surfacing on some platforms: keep listening
        source = f"{peer[0]}:{peer[1]}"
        snapshot = assembler.feed(data, source)
        if snapshot is None:
            continue
        key = (source, str(snapshot.get("role", "?")))
        view.take(key, snapshot)
        if mode.as_json:
            out.write(json.dumps(snapshot, separators=(",", ":")) + "\n")
        elif mode.interactive:
            out.write(CLEAR_SCREEN + view.render() + "\n")
        else:
            out.write(render_snapshot(snapshot, source, view.previous.get(key)) + "\n\n")
        out.flush()
        if once:
            return 0
    if once:
        print(f"ristbond stats: no snapshot received within {duration:g} s", file=sys.stderr)
        return 1
    return 0
