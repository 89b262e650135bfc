"""ristbond's ``otel`` telemetry exporter: snapshots as OpenTelemetry metrics."""

from ristbond_telemetry_otel.exporter import OtelExporter
from ristbond_telemetry_otel.options import OtelOptions

__all__ = ["OtelExporter", "OtelOptions"]
