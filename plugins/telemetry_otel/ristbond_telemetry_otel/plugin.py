"""Entry point ``otel``: registers the exporter and forwards lifecycle events to it."""

from __future__ import annotations

import logging
import weakref

from ristbond_core.events import LinkStateChanged
from ristbond_core.hookspecs import hookimpl
from ristbond_core.registry import TelemetryRegistry
from ristbond_telemetry_otel.exporter import OtelExporter
from ristbond_telemetry_otel.options import OtelOptions

log = logging.getLogger(__name__)

# Exporters built by this plugin's factory; the lifecycle hook is module-level, so
# this is how an event reaches them. Weak: a closed, dropped exporter disappears.
_LIVE: weakref.WeakSet[OtelExporter] = weakref.WeakSet()


def make_otel(options: OtelOptions) -> OtelExporter:
    """Factory registered under the name ``otel``."""
    exporter = OtelExporter(options)
    _LIVE.add(exporter)
    return exporter


def live_exporters() -> list[OtelExporter]:
    """The exporters that receive lifecycle events."""
    return list(_LIVE)


@hookimpl
def ristbond_register_telemetry_exporters(registry: TelemetryRegistry) -> None:
    """Make ``otel`` selectable in ``[telemetry] exporters``."""
    registry.add(
        "otel",
        make_otel,
        options=OtelOptions,
        description="OpenTelemetry metrics over OTLP/HTTP and/or a Prometheus endpoint",
    )


@hookimpl
def ristbond_link_state_changed(event: LinkStateChanged) -> None:
    """Count the transition and emit a log record in every live ``otel`` exporter."""
    for exporter in list(_LIVE):
        try:
            exporter.on_link_state_changed(event)
        except Exception as exc:  # telemetry must never break the caller
            log.warning("otel: could not record a lifecycle event: %s: %s",
                        type(exc).__name__, exc)
