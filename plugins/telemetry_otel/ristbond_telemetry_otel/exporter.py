"""The ``otel`` exporter: the latest snapshot of each role, read by OpenTelemetry instruments.

``export()`` only stores the snapshot (and notices lifecycle changes), so it is cheap;
the SDK's readers call the observable instruments' callbacks when they collect (on a
Prometheus scrape, or every ``export_interval_ms`` for OTLP). The meter and logger
providers are private to the exporter: nothing global is set, so several exporters
(or tests) can live in one process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, generate_latest, start_http_server

from ristbond_core.config.redact import redact_text
from ristbond_core.errors import RistbondError
from ristbond_core.events import LinkStateChanged
from ristbond_telemetry_otel.metrics import (
    ALL_METRICS,
    TRANSITIONS_METRIC,
    MetricSpec,
    base_attributes,
    link_states,
    observer_for,
)
from ristbond_telemetry_otel.options import OtelOptions

SCOPE_NAME = "ristbond_telemetry_otel"
SCOPE_VERSION = "0.1.0"
STATE_CHANGED_EVENT = "ristbond.link.state_changed"

log = logging.getLogger(__name__)


class OtelExporter:
    """Turns stats snapshots into OpenTelemetry metrics and lifecycle changes into logs."""

    def __init__(
        self,
        options: OtelOptions,
        *,
        metric_readers: Sequence[MetricReader] = (),
        log_processors: Sequence[LogRecordProcessor] = (),
    ) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._latest: dict[str, Mapping[str, Any]] = {}
        self._states: dict[str, str] = {}
        # Once the lifecycle hook delivers events, they are the exact record of
        # transitions; until then, transitions are inferred from snapshot to snapshot.
        self._events_seen = False
        self.resource = Resource.create(
            {"service.name": options.service_name, **options.resource_attributes}
        )
        readers = list(metric_readers)
        processors = list(log_processors)
        self.prometheus_registry: CollectorRegistry | None = None
        if "prometheus" in options.exporters:
            self.prometheus_registry = CollectorRegistry(auto_describe=True)
            readers.append(PrometheusMetricReader(registry=self.prometheus_registry))
        if "otlp" in options.exporters:
            timeout_s = options.otlp_timeout_ms / 1000
            headers = dict(options.otlp_headers)
            readers.append(PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=f"{options.otlp_endpoint}/v1/metrics",
                                   headers=headers, timeout=timeout_s),
                export_interval_millis=options.export_interval_ms,
                export_timeout_millis=options.otlp_timeout_ms,
            ))
            processors.append(BatchLogRecordProcessor(
                OTLPLogExporter(endpoint=f"{options.otlp_endpoint}/v1/logs",
                                headers=headers, timeout=timeout_s)
            ))
        self.meter_provider = MeterProvider(
            metric_readers=readers, resource=self.resource, shutdown_on_exit=False
        )
        self.logger_provider = LoggerProvider(resource=self.resource, shutdown_on_exit=False)
        for processor in processors:
            self.logger_provider.add_log_record_processor(processor)
        self._event_logger = self.logger_provider.get_logger(SCOPE_NAME, SCOPE_VERSION)
        meter = self.meter_provider.get_meter(SCOPE_NAME, SCOPE_VERSION)
        for spec in ALL_METRICS:
            if spec is TRANSITIONS_METRIC:
                continue
            create = (meter.create_observable_counter if spec.kind == "counter"
                      else meter.create_observable_gauge)
            create(spec.name, callbacks=[self._callback(spec)], unit=spec.unit,
                   description=spec.description)
        self._transitions = meter.create_counter(
            TRANSITIONS_METRIC.name, unit=TRANSITIONS_METRIC.unit,
            description=TRANSITIONS_METRIC.description,
        )
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        if self.prometheus_registry is not None:
            self._serve_prometheus(self.prometheus_registry)

    # -- the exporter contract -----------------------------------------------------------

    def export(self, snapshot: Mapping[str, Any]) -> None:
        """Keep ``snapshot`` as its role's latest; count lifecycle changes it reveals."""
        role = str(snapshot.get("role"))
        changes: list[tuple[str, str, str]] = []
        with self._lock:
            self._latest[role] = snapshot
            if role == "sender":
                states = link_states(snapshot)
                if not self._events_seen:
                    changes = [(link_id, self._states[link_id], state)
                               for link_id, state in states.items()
                               if link_id in self._states and self._states[link_id] != state]
                self._states = states
        for link_id, old, new in changes:
            self._record_transition(link_id, old, new, "observed between snapshots")

    def close(self) -> None:
        """Stop the scrape endpoint, push what is pending over OTLP and release everything."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._server_thread is not None:
                self._server_thread.join(timeout=5)
            self._server = None
        self.meter_provider.shutdown()
        self.logger_provider.shutdown()

    # -- lifecycle events ------------------------------------------------------------------

    def on_link_state_changed(self, event: LinkStateChanged) -> None:
        """Count the transition and emit it as a log record (from the lifecycle hook)."""
        with self._lock:
            self._events_seen = True
            self._states[event.link_id] = event.new.value
        self._record_transition(event.link_id, event.old.value, event.new.value, event.reason)

    def _record_transition(self, link_id: str, old: str, new: str, reason: str) -> None:
        with self._lock:
            sender = self._latest.get("sender")
        attributes = {**(base_attributes(sender) if sender else {"role": "sender",
                                                                   "flow.id": ""}),
                      "link.id": link_id, "link.state.from": old, "link.state.to": new}
        self._transitions.add(1, attributes)
        message = f"link {link_id}: {old} -> {new} ({redact_text(reason)})"
        self._event_logger.emit(
            timestamp=time.time_ns(),
            severity_number=SeverityNumber.INFO,
            severity_text="INFO",
            body=message,
            attributes={**attributes, "reason": redact_text(reason)},
            event_name=STATE_CHANGED_EVENT,
        )
        log.info("%s", message, extra={"link_id": link_id, "state_from": old, "state_to": new})

    # -- Prometheus ------------------------------------------------------------------------

    @property
    def prometheus_address(self) -> tuple[str, int] | None:
        """(host, port) the scrape endpoint listens on (the real port when 0 was asked)."""
        if self._server is None:
            return None
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def render_prometheus(self) -> str:
        """The metrics in Prometheus text format (for a ``/metrics`` served elsewhere)."""
        if self.prometheus_registry is None:
            raise RistbondError(
                "telemetry.options.otel.exporters: add 'prometheus' to render Prometheus text"
            )
        return generate_latest(self.prometheus_registry).decode("utf-8")

    def _serve_prometheus(self, registry: CollectorRegistry) -> None:
        host, port = self.options.prometheus_host, self.options.prometheus_port
        try:
            self._server, self._server_thread = start_http_server(
                port, addr=host, registry=registry
            )
        except OSError as exc:
            self.meter_provider.shutdown()
            self.logger_provider.shutdown()
            raise RistbondError(
                f"telemetry.options.otel.prometheus_port: cannot listen on {host}:{port}: "
                f"{exc.strerror or exc} — choose a free port (0 picks one)"
            ) from None

    # -- instruments -----------------------------------------------------------------------

    def _callback(self, spec: MetricSpec) -> Any:
        compute = observer_for(spec)

        def callback(_options: CallbackOptions) -> Iterable[Observation]:
            with self._lock:
                latest = dict(self._latest)
            return [Observation(value, attributes) for value, attributes in compute(latest)]

        return callback

