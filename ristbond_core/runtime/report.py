"""Stats JSON lines, the live console view and the final one-line summary.

Snapshots are the engines' ``stats(now)`` dicts (docs/stats.schema.json) plus the
transport's socket counters under ``transport``. The console view redraws in place
on a terminal and is silent otherwise; the final line is always printed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from ristbond_core.errors import RistbondError
from ristbond_core.plugins import PluginHost
from ristbond_core.runtime.meter import StreamMeter
from ristbond_core.telemetry.dispatch import TelemetryDispatcher
from ristbond_core.telemetry.health import HealthServer


class StatsJsonWriter:
    """One compact JSON object per line to a file or stdout, flushed per line."""

    def __init__(self, target: str) -> None:
        if target == "-":
            self._stream: IO[str] = sys.stdout
            self._owned = False
            return
        try:
            self._stream = Path(target).open("w", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise RistbondError(f"--stats-json {target!r}: cannot open: {exc.strerror}") from None
        self._owned = True

    def write(self, snapshot: Mapping[str, Any]) -> None:
        """Append one snapshot."""
        self._stream.write(json.dumps(snapshot, separators=(",", ":")) + "\n")
        self._stream.flush()

    def close(self) -> None:
        """Close a file we opened."""
        if self._owned:
            self._stream.close()


def _ms(value: object) -> str:
    return f"{value:.0f}" if isinstance(value, int | float) else "-"


def _rate(bps: object) -> str:
    if not isinstance(bps, int | float):
        return "-"
    return f"{bps / 1e6:.1f}M" if bps >= 1e6 else f"{bps / 1e3:.0f}k"


def render_view(snapshot: Mapping[str, Any]) -> list[str]:
    """The console lines for one snapshot (sender or receiver)."""
    flow = snapshot["flow"]
    uptime = snapshot["uptime_ms"] / 1000
    if snapshot["role"] == "sender":
        lines = [f"send  {uptime:7.1f} s  in {flow['input_datagrams']} dgrams  "
                 f"sent {flow['packets_sent']}  rtx {flow['retransmitted']}  "
                 f"nacks {flow['nack_requested']}"]
        lines.append(f"  {'link':12} {'state':>8} {'share':>6} {'rtt':>5} {'loss':>6} "
                     f"{'capacity':>8} {'sent':>8}")
        lines.extend(
            f"  {link['id'][:12]:12} {link['state']:>8} {100 * link['share']:5.1f}% "
            f"{_ms(link['rtt_ms']):>5} {100 * link['loss']:5.1f}% "
            f"{_rate(link['capacity_bps']):>8} {link['sent_packets']:>8}"
            for link in snapshot["links"]
        )
        return lines
    lines = [f"recv  {uptime:7.1f} s  out {flow['output_packets']}  lost {flow['lost']}  "
             f"recovered {flow['recovered']}  dup {flow['duplicate']}  "
             f"buffer {flow['buffer_ms']} ms / {flow['buffer_packets']} pkts"]
    lines.append(f"  {'link':22} {'packets':>9} {'rtt':>5} {'jitter':>6} {'extra':>6}")
    lines.extend(
        f"  {link['id'][:22]:22} {link['received_packets']:>9} {_ms(link['rtt_ms']):>5} "
        f"{_ms(link['jitter_ms']):>6} {_ms(link['extra_delay_ms']):>6}"
        for link in snapshot["links"]
    )
    return lines


class ConsoleView:
    """Redraws the view in place on a terminal; does nothing when stderr is not one."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = self._stream.isatty()
        self._drawn = 0

    def show(self, snapshot: Mapping[str, Any]) -> None:
        """Replace the previous view with this snapshot's."""
        if not self.enabled:
            return
        lines = render_view(snapshot)
        up = f"\x1b[{self._drawn}F" if self._drawn else ""
        self._stream.write(up + "\x1b[J" + "\n".join(lines) + "\n")
        self._stream.flush()
        self._drawn = len(lines)


def final_line(role: str, reason: str, snapshot: Mapping[str, Any], meter: StreamMeter,
               transport: Mapping[str, int]) -> str:
    """The summary printed when a run ends (always, terminal or not)."""
    flow = snapshot["flow"]
    seconds = snapshot["uptime_ms"] / 1000
    errors = transport.get("send_errors", 0) + transport.get("receive_errors", 0)
    if role == "sender":
        links = ", ".join(f"{link['id']}={link['sent_packets']}" for link in snapshot["links"])
        return (f"ristbond send: stopped ({reason}) after {seconds:.1f} s: "
                f"input {meter.datagrams} datagrams {meter.bytes} bytes sha256 {meter.sha256}; "
                f"sent {flow['packets_sent']} packets, retransmitted {flow['retransmitted']}, "
                f"socket errors {errors}; links {links or 'none'}")
    return (f"ristbond receive: stopped ({reason}) after {seconds:.1f} s: "
            f"output {meter.datagrams} datagrams {meter.bytes} bytes sha256 {meter.sha256}; "
            f"lost {flow['lost']}, recovered {flow['recovered']}, duplicates "
            f"{flow['duplicate']}, late {flow['late']}, socket errors {errors}; "
            f"links {len(snapshot['links'])}")


class SnapshotPublisher:
    """Where each stats snapshot goes: the stats file, the telemetry exporters (through a
    dispatcher that never blocks the data path), the plugins observing snapshots, and
    the console view."""

    def __init__(
        self,
        host: PluginHost,
        telemetry: TelemetryDispatcher | None,
        health: HealthServer | None = None,
    ) -> None:
        self.host = host
        self.telemetry = telemetry
        self.health = health
        self.stats_out: StatsJsonWriter | None = None
        self.view = ConsoleView()

    def publish(self, snapshot: Mapping[str, Any]) -> None:
        """Hand ``snapshot`` to every consumer; none of them may stop the stream."""
        if self.stats_out is not None:
            self.stats_out.write(snapshot)
        if self.telemetry is not None:
            self.telemetry.dispatch(snapshot)
        if self.health is not None:
            self.health.update(snapshot)
        self.host.notify_stats_snapshot(snapshot)
        self.view.show(snapshot)

    def close(self) -> None:
        """Close the stats file and flush the exporters (at most a couple of seconds)."""
        if self.stats_out is not None:
            self.stats_out.close()
            self.stats_out = None
        if self.telemetry is not None:
            self.telemetry.close(timeout_s=2.0)
            self.telemetry = None
        if self.health is not None:
            self.health.close()
            self.health = None


def start_health(address: str | None, telemetry: TelemetryDispatcher | None) -> HealthServer | None:
    """Start the health endpoint ``[telemetry] health`` names, serving ``/metrics`` from
    the ``otel`` exporter's Prometheus text when that exporter is configured."""
    if address is None:
        return None
    host, _, port = address.rpartition(":")
    metrics = None
    otel = telemetry.exporter("otel") if telemetry is not None else None
    render = getattr(otel, "render_prometheus", None)
    if callable(render):
        metrics = render
    server = HealthServer(host.strip("[]"), int(port), metrics=metrics)
    server.start()
    print(f"ristbond: health endpoint on {server.url}/healthz", file=sys.stderr, flush=True)
    return server
