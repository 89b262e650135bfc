"""``ristbond send`` / ``receive`` over a session transport (librist).

The session transport runs the RIST protocol on its own threads; these loops feed it
input payloads or take its delivered payloads, poll its per-link reports into
:class:`SessionControl` (lifecycle + scheduler) and apply the resulting split as the
transport's link weights. Snapshots keep the same envelope as the engines' and carry
a ``session`` object, so every exporter and the health endpoint work unchanged.
"""

from __future__ import annotations

import logging
import select
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from ristbond_core.config.models import LinkConfig
from ristbond_core.contracts import (
    Scheduler,
    SessionLinkReport,
    SessionSettings,
    SessionTransport,
)
from ristbond_core.engine.common import NS_PER_MS, NS_PER_S, snapshot
from ristbond_core.events import LinkStateChanged
from ristbond_core.plugins import PluginHost
from ristbond_core.runtime.clock import WakeSpacing, now_ns, process_clock
from ristbond_core.runtime.meter import StreamMeter
from ristbond_core.runtime.receiver import ReceiverLoop, ReceiverPlan
from ristbond_core.runtime.report import SnapshotPublisher, StatsJsonWriter
from ristbond_core.runtime.sender import SenderLoop, SenderPlan
from ristbond_core.runtime.session_control import ReportTally, SessionControl
from ristbond_core.runtime.signals import SignalFlags
from ristbond_core.runtime.urls import link_endpoint
from ristbond_core.telemetry.dispatch import TelemetryDispatcher
from ristbond_core.telemetry.health import HealthServer

log = logging.getLogger(__name__)

#: How often the loops poll the transport's reports and re-check the split.
CONTROL_INTERVAL_NS = 100 * NS_PER_MS
#: The receiver loop never sleeps longer than this.
MAX_WAIT_NS = 50 * NS_PER_MS
#: Payloads taken from the session per loop iteration at most.
READ_BATCH = 256
#: After a stop, the receiver is drained once nothing arrived for this long.
QUIET_DRAINED_NS = 300 * NS_PER_MS


class SessionDriver:
    """What both session loops share: the snapshot, the final line and closing."""

    role: str
    host: PluginHost
    transport: SessionTransport
    transport_name: str
    publisher: SnapshotPublisher
    meter: StreamMeter
    latency_ms: int

    def _session_init(self, host: PluginHost, transport: SessionTransport, transport_name: str,
                      *, latency_ms: int, telemetry: TelemetryDispatcher | None,
                      health: HealthServer | None) -> None:
        self.host = host
        self.transport = transport
        self.transport_name = transport_name
        self.latency_ms = latency_ms
        self.meter = StreamMeter()
        self.publisher = SnapshotPublisher(host, telemetry, health)
        self._started_ns = now_ns()
        self._wall_offset = process_clock().unix_minus_monotonic_ns
        self._seq = 0

    def _envelope(self, now: int, flow: dict[str, Any], links: list[dict[str, Any]],
                  session: dict[str, Any],
                  transport: dict[str, Any] | None = None) -> dict[str, Any]:
        self._seq += 1
        out = snapshot(role=self.role, seq=self._seq, now_ns=now,
                       unix_minus_monotonic_ns=self._wall_offset, started_ns=self._started_ns,
                       derived={"latency_ms": self.latency_ms}, flow=flow, links=links)
        out["session"] = {"transport": self.transport_name, **session}
        out["transport"] = transport if transport is not None else self.transport.stats()
        return out

    def _publish_events(self, events: list[LinkStateChanged]) -> None:
        for event in events:
            log.info("link %s: %s -> %s (%s)", event.link_id, event.old.value,
                     event.new.value, event.reason)
            self.host.notify_link_state_changed(event)

    def _session_finish(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def _session_close(self) -> None:
        self.transport.close()
        self.publisher.close()


# -- sender ---------------------------------------------------------------------------


class SessionSenderRuntime(SessionDriver, SenderLoop):
    """``ristbond send`` over a session transport: input → transport, reports → split."""

    def __init__(self, plan: SenderPlan, host: PluginHost, scheduler: Scheduler,
                 transport: SessionTransport, transport_name: str,
                 *, telemetry: TelemetryDispatcher | None = None,
                 health: HealthServer | None = None) -> None:
        self.plan = plan
        self._session_init(host, transport, transport_name,
                           latency_ms=plan.settings.latency_ms, telemetry=telemetry,
                           health=health)
        self.control = SessionControl(scheduler, plan.settings.lifecycle)
        self.links = {}
        self.input = None
        self.spacing = WakeSpacing(int(plan.wake_interval_ms * NS_PER_MS))
        self.written = 0
        self.written_bytes = 0
        self._next_control = 0
        if plan.stats_json:
            self.publisher.stats_out = StatsJsonWriter(plan.stats_json)

    def _settings(self) -> SessionSettings:
        return SessionSettings(latency_ms=self.plan.settings.latency_ms,
                               flow_id=self.plan.settings.flow_id)

    def _start_links(self, now: int) -> None:
        links = list(self.plan.links.values())
        self.transport.start_sender(self._settings(), [link_endpoint(link) for link in links])
        for link in links:
            self.control.add_link(link.id, now, weight=link.weight)
            self.links[link.id] = link
        self._apply(now, force=True)

    def attach(self, link: LinkConfig, now: int) -> None:
        """Add a peer to the running session and the link to the bond."""
        self.transport.add_link(link_endpoint(link))
        self.control.add_link(link.id, now, weight=link.weight)
        self.links[link.id] = link
        self._apply(now, force=True)

    def detach(self, link_id: str, now: int) -> None:
        """Remove the link from the bond and its peer from the session."""
        self.control.remove_link(link_id, now)
        self.transport.remove_link(link_id)
        del self.links[link_id]
        self._apply(now, force=True)

    def set_link_weight(self, link_id: str, weight: float) -> None:
        """A configured weight changed: the scheduler sees it at the next control tick."""
        self.control.set_weight(link_id, weight)

    def _apply(self, now: int, *, force: bool = False) -> None:
        shares = self.control.target_shares(now) if force else self.control.shares_to_apply(now)
        if shares is None or not shares:
            return
        weights = self.transport.apply_shares(shares, duplicate=self.control.duplicate)
        self.control.applied(shares, weights)
        log.debug("applied weights %s for shares %s", dict(weights), shares)

    def _control(self, now: int) -> None:
        for report in self.transport.poll_reports():
            self.control.on_report(report, now)
        self.control.on_deadline(now)
        self._publish_events(self.control.drain_events())
        self._apply(now)

    def _step(self, signals: SignalFlags, now: int, input_open: bool, next_stats: int,
              end: int | None) -> None:
        if not self._next_control:
            self._next_control = now
        ready, input_fd = self._wait(signals, now, input_open,
                                     [next_stats, self._next_control, end,
                                      self.control.next_deadline()], [])
        now = now_ns()
        for payload in self._read_input(ready, input_fd, input_open, now):
            self.transport.write(payload)
            self.written += 1
            self.written_bytes += len(payload)
        if now >= self._next_control:
            self._control(now)
            self._next_control = now + CONTROL_INTERVAL_NS

    def _snapshot(self, now: int) -> dict[str, Any]:
        links = self.control.link_stats(now)
        sent = sum(int(link["totals"].get("sent_packets", 0)) for link in links)
        retransmitted = sum(int(link["totals"].get("retransmitted_packets", 0))
                            for link in links)
        flow = {
            "ssrc": self.plan.settings.flow_id,
            "input_datagrams": self.meter.datagrams,
            "input_bytes": self.meter.bytes,
            "written": self.written,
            "written_bytes": self.written_bytes,
            "packets_sent": sent,
            "retransmitted": retransmitted,
        }
        for link in links:
            link["sent_packets"] = int(link["totals"].get("sent_packets", 0))
            link["retransmitted"] = int(link["totals"].get("retransmitted_packets", 0))
        session = {
            "duplicate": self.control.duplicate,
            "weight_updates": self.control.weight_updates,
            "applied_weights": dict(self.control.applied_weights),
            "reports_unknown_link": self.control.reports_unknown_link,
        }
        out = self._envelope(now, flow, links, session)
        self.publisher.publish(out)
        return out

    def _finish(self, reason: str) -> None:
        snap = self._snapshot(now_ns())
        flow = snap["flow"]
        links = ", ".join(f"{link['id']}={link['sent_packets']}" for link in snap["links"])
        weights = ", ".join(f"{k}={v}" for k, v in snap["session"]["applied_weights"].items())
        self._session_finish(
            f"ristbond send: stopped ({reason}) after {snap['uptime_ms'] / 1000:.1f} s: "
            f"input {self.meter.datagrams} datagrams {self.meter.bytes} bytes sha256 "
            f"{self.meter.sha256}; {self.transport_name} sent {flow['packets_sent']} packets, "
            f"retransmitted {flow['retransmitted']}; links {links or 'none'}; "
            f"weights {weights or 'none'}")
        self.close()

    def close(self) -> None:
        """Release the input, the session and the stats file."""
        self._close_input()
        self._session_close()


# -- receiver -------------------------------------------------------------------------


class SessionReceiverRuntime(SessionDriver, ReceiverLoop):
    """``ristbond receive`` over a session transport: delivered payloads → output."""

    def __init__(self, plan: ReceiverPlan, host: PluginHost, transport: SessionTransport,
                 transport_name: str, *, telemetry: TelemetryDispatcher | None = None,
                 health: HealthServer | None = None) -> None:
        self.plan = plan
        self._session_init(host, transport, transport_name,
                           latency_ms=plan.settings.latency_ms, telemetry=telemetry,
                           health=health)
        self.output = None
        self._links: dict[str, ReportTally] = {}
        self._next_control = 0
        self._last_payload_ns = 0

    def _listen(self) -> None:
        self.transport.start_receiver(
            SessionSettings(latency_ms=self.plan.settings.latency_ms), self.plan.listen)

    def _drained(self) -> bool:
        return now_ns() - self._last_payload_ns >= QUIET_DRAINED_NS

    def _step(self, signals: SignalFlags, now: int, next_stats: int) -> None:
        if not self._next_control:
            self._next_control = now
        wake = min(now + MAX_WAIT_NS, next_stats, self._next_control)
        readers = [signals.fileno()]
        fd = self.transport.fileno()
        if fd is not None:
            readers.append(fd)
        ready, _, _ = select.select(readers, [], [], max(0, wake - now) / NS_PER_S)
        if signals.fileno() in ready:
            signals.drain()
        payloads = self.transport.read(READ_BATCH)
        now = now_ns()
        if payloads:
            self._last_payload_ns = now
            self._deliver(payloads)
        if now >= self._next_control:
            for report in self.transport.poll_reports():
                self._on_report(report, now)
            self._next_control = now + CONTROL_INTERVAL_NS

    def _on_report(self, report: SessionLinkReport, now: int) -> None:
        self._links.setdefault(report.link_id, ReportTally()).add(report, now)

    def _snapshot(self, now: int) -> dict[str, Any]:
        links = []
        for link_id, link in self._links.items():
            received = int(link.totals.get("received_packets", 0))
            links.append({
                "id": link_id,
                "received_packets": received,
                "rtt_ms": link.metrics.rtt_ms,
                "loss": link.metrics.loss,
                "jitter_ms": link.metrics.jitter_ms,
                "delivery_rate_bps": link.metrics.delivery_rate_bps,
                "last_packet_age_ms": link.age_ms(now),
                "reports": link.reports,
                "totals": dict(link.totals),
                "last_report": dict(link.last),
            })
        transport = self.transport.stats()
        totals = _sum_counters(link.totals for link in self._links.values())
        flow_totals = transport.get("flow") or {}
        flow = {
            "output_packets": self.meter.datagrams,
            "output_bytes": self.meter.bytes,
            "received": int(totals.get("received_packets", 0)),
            # The session's own flow counters, where the transport gives them.
            "lost": int(flow_totals.get("flow_lost", 0)),
            "recovered": int(flow_totals.get("flow_recovered_total", 0)),
            "duplicate": int(flow_totals.get("flow_duplicates", 0)),
        }
        out = self._envelope(now, flow, links, {}, transport)
        self.publisher.publish(out)
        return out

    def _finish(self, reason: str) -> None:
        snap = self._snapshot(now_ns())
        flow = snap["flow"]
        self._session_finish(
            f"ristbond receive: stopped ({reason}) after {snap['uptime_ms'] / 1000:.1f} s: "
            f"output {self.meter.datagrams} datagrams {self.meter.bytes} bytes sha256 "
            f"{self.meter.sha256}; {self.transport_name} lost {flow['lost']}, recovered "
            f"{flow['recovered']}, duplicates {flow['duplicate']}; links {len(snap['links'])}")
        self.close()

    def close(self) -> None:
        """Flush and close the output, the session and the stats file."""
        self._close_output()
        self._session_close()


def _sum_counters(tables: Iterable[Mapping[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for table in tables:
        for key, value in table.items():
            total[key] = total.get(key, 0.0) + value
    return total
