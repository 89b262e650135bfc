"""Options of the ``otel`` exporter (``[telemetry.options.otel]``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Sink = Literal["otlp", "prometheus"]
DEFAULT_SINKS: tuple[Sink, ...] = ("prometheus",)


class OtelOptions(BaseModel):
    """Where the metrics go: an OTLP/HTTP collector, a Prometheus scrape endpoint, or both."""

    model_config = ConfigDict(extra="forbid")

    exporters: list[Sink] = Field(
        default_factory=lambda: list(DEFAULT_SINKS), min_length=1,
        description="'otlp' pushes to a collector, 'prometheus' serves a scrape endpoint",
    )
    otlp_endpoint: str = Field(
        "http://127.0.0.1:4318",
        description="OTLP/HTTP base URL; metrics go to /v1/metrics, logs to /v1/logs",
    )
    otlp_headers: dict[str, str] = Field(
        default_factory=dict, description="extra HTTP headers (e.g. an authorization token)",
    )
    otlp_timeout_ms: int = Field(5_000, ge=100, le=60_000)
    export_interval_ms: int = Field(
        10_000, ge=100, le=3_600_000, description="how often metrics are pushed over OTLP",
    )
    prometheus_host: str = Field(
        "127.0.0.1", description="address the scrape endpoint binds (loopback by default)",
    )
    prometheus_port: int = Field(9464, ge=0, le=65_535, description="0 picks a free port")
    service_name: str = Field("ristbond", min_length=1)
    resource_attributes: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="added to the OpenTelemetry resource (e.g. deployment.environment)",
    )

    @field_validator("exporters")
    @classmethod
    def _unique(cls, value: list[Sink]) -> list[Sink]:
        if len(set(value)) != len(value):
            raise ValueError("each exporter may be named once")
        return value

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL (OTLP over HTTP)")
        return value.rstrip("/")
