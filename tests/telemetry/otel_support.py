"""Building blocks for the ``otel`` plugin tests: build exporters, read metrics back by name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric
from ristbond_telemetry_otel.exporter import OtelExporter
from ristbond_telemetry_otel.options import OtelOptions


@dataclass
class Harness:
    """An exporter with an in-memory metric reader and log exporter attached."""

    exporter: OtelExporter
    reader: InMemoryMetricReader
    logs: InMemoryLogRecordExporter

    def metrics(self) -> dict[str, Metric]:
        """Collect now: metric name → metric."""
        data = self.reader.get_metrics_data()
        assert data is not None
        return {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics
                for m in sm.metrics}

    def points(self, name: str) -> list[tuple[dict[str, Any], float]]:
        """(attributes, value) of every point of metric ``name`` now."""
        metric = self.metrics().get(name)
        if metric is None:
            return []
        return [(dict(p.attributes or {}), p.value)  # type: ignore[union-attr]
                for p in metric.data.data_points]

    def value(self, name: str, **attributes: str) -> float:
        """The single value of ``name`` whose attributes include ``attributes``."""
        wanted = {k.replace("_", "."): v for k, v in attributes.items()}
        found = [v for a, v in self.points(name) if wanted.items() <= a.items()]
        assert len(found) == 1, f"{name} {wanted}: {self.points(name)}"
        return found[0]


@contextmanager
def harness(**options: Any) -> Iterator[Harness]:
    """An ``otel`` exporter serving Prometheus on an ephemeral loopback port."""
    reader = InMemoryMetricReader()
    logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    settings = OtelOptions.model_validate(
        {"exporters": ["prometheus"], "prometheus_port": 0, **options}
    )
    exporter = OtelExporter(settings, metric_readers=[reader],
                            log_processors=[SimpleLogRecordProcessor(logs)])
    try:
        yield Harness(exporter, reader, logs)
    finally:
        exporter.close()
