"""The configuration schema (version 2): every section with explicit defaults."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ristbond_core.engine.lifecycle_config import LifecycleConfig

CURRENT_VERSION = 2
OLDEST_VERSION = 1

LINK_URL = re.compile(r"^rist://(?P<host>\[[0-9a-fA-F:]+\]|[^:/?@\[\]]+):(?P<port>\d{1,5})(\?.*)?$")
LISTEN_URL = re.compile(r"^rist://@(?P<host>\[[0-9a-fA-F:]*\]|[^:/?@\[\]]*):(?P<port>\d{1,5})(\?.*)?$")


class Section(BaseModel):
    """Base of every table: unknown keys are errors (so misspellings are caught)."""

    model_config = ConfigDict(extra="forbid")


def _check_port(url: str, pattern: re.Pattern[str], example: str) -> str:
    match = pattern.match(url)
    if match is None:
        raise ValueError(f"expected a URL like {example}")
    port = int(match.group("port"))
    if not 1 <= port <= 65535:
        raise ValueError("port must be 1..65535")
    if port % 2:
        raise ValueError("RIST uses an even RTP port (RTCP is port + 1)")
    return url


class LinkConfig(Section):
    """One bonded link: where it goes, which interface it leaves from, its weight."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$", description="short link name")
    url: str = Field(description="receiver address, rist://HOST:PORT with an even port")
    interface: str | None = Field(None, description="local interface to bind (e.g. wwan0)")
    source: str | None = Field(None, description="local source address to bind")
    weight: float = Field(1.0, ge=0.0, description="static weight for weighted schedulers")
    options: dict[str, Any] = Field(default_factory=dict, description="transport link options")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_port(value, LINK_URL, "rist://203.0.113.5:5000")


class SenderConfig(Section):
    """What the sender reads and how it paces and protects it."""

    input: str = Field("testsrc://", description="udp://@[group]:port, file://PATH, -, testsrc://")
    bitrate_kbps: int = Field(5000, gt=0, le=2_000_000, description="stream bitrate for pacing")
    latency_ms: int = Field(1000, ge=20, le=30_000, description="end-to-end latency budget")
    pacing: Literal["input", "bitrate", "pcr"] = Field("input", description="what sets send times")
    payload_bytes: int = Field(
        1460, ge=188, le=8960,
        description="largest RTP payload; bigger input datagrams are split at TS boundaries",
    )
    flow_id: int = Field(0x5249_5354 & ~1, ge=0, le=0xFFFF_FFFE, description="SSRC (even)")
    max_retries: int = Field(7, ge=0, le=50, description="retransmissions per packet at most")
    capacity_probe_interval_ms: int = Field(
        250, ge=0, le=60_000,
        description="how often each link is timed with a packet pair; 0 = never",
    )
    capacity_probe_budget: float = Field(
        0.005, ge=0.0, le=0.1,
        description="most of the bytes sent that packet-pair copies may spend (0.005 = 0.5 %;"
                    " a pair split from one TS datagram costs only a header)",
    )
    wake_interval_ms: float | None = Field(
        None, ge=0.0, le=20.0,
        description="least time between the loop's wake-ups: what arrives meanwhile is "
                    "handled in one pass (less CPU; timers up to this late); 0 = every "
                    "event; unset: latency_ms / 200, at most 5 ms",
    )

    @field_validator("flow_id")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError("the flow id (SSRC) must be even; odd SSRCs mark retransmissions")
        return value


class ReceiverConfig(Section):
    """Where the receiver listens and what it delivers."""

    listen: list[str] = Field(
        default_factory=lambda: ["rist://@0.0.0.0:5000"], description="rist://@HOST:PORT URLs"
    )
    output: str = Field("udp://127.0.0.1:5100", description="udp://HOST:PORT, file://PATH or -")
    latency_ms: int = Field(1000, ge=20, le=30_000, description="playout delay after send time")
    max_jitter_ms: int = Field(50, ge=0, le=5000, description="extra delay spread tolerated")
    max_buffer_packets: int = Field(65_536, ge=64, le=1_048_576, description="reorder buffer cap")
    nack_form: Literal["auto", "range", "generic"] = Field(
        "auto",
        description="auto: range for RIST senders, generic otherwise; range: RIST APP NACKs "
                    "(librist); generic: RFC 4585 NACKs (GStreamer ristsink)",
    )
    wake_interval_ms: float | None = Field(
        None, ge=0.0, le=20.0,
        description="least time between the loop's wake-ups: what arrives meanwhile is "
                    "handled in one pass (less CPU; timers up to this late); 0 = every "
                    "event; unset: latency_ms / 200, at most 5 ms",
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one listen URL is needed")
        return [_check_port(url, LISTEN_URL, "rist://@0.0.0.0:5000") for url in value]


class BackendSection(Section):
    """A plugin chosen by its short name plus that plugin's own options table."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class TransportSection(BackendSection):
    """Which transport moves the datagrams (``udp``) or runs the session (``librist``)."""

    name: str = "udp"


class SchedulerSection(BackendSection):
    """Which scheduler splits packets over links."""

    name: str = "dwrr"


class TelemetrySection(Section):
    """Which telemetry exporters run, how often, and their options by exporter name."""

    exporters: list[str] = Field(default_factory=list)
    interval_ms: int = Field(1000, ge=100, le=60_000)
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    health: str | None = Field(
        None, description="HOST:PORT serving /healthz, /readyz and /metrics (keep it on loopback)"
    )

    @field_validator("health")
    @classmethod
    def _health_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("expected HOST:PORT, e.g. \"127.0.0.1:8080\"")
        return value


class RistbondConfig(Section):
    """The whole configuration file."""

    version: int = CURRENT_VERSION
    links: list[LinkConfig] = Field(default_factory=list)
    sender: SenderConfig = Field(default_factory=SenderConfig)
    receiver: ReceiverConfig = Field(default_factory=ReceiverConfig)
    transport: TransportSection = Field(default_factory=TransportSection)
    scheduler: SchedulerSection = Field(default_factory=SchedulerSection)
    lifecycle: LifecycleConfig = Field(default_factory=LifecycleConfig)
    telemetry: TelemetrySection = Field(default_factory=TelemetrySection)

    @field_validator("links")
    @classmethod
    def _unique_ids(cls, links: list[LinkConfig]) -> list[LinkConfig]:
        seen: set[str] = set()
        for link in links:
            if link.id in seen:
                raise ValueError(f"link id {link.id!r} is used twice; ids must be unique")
            seen.add(link.id)
        return links
