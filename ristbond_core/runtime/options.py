"""Command-line flags over config values: the precedence rule lives here, once.

A flag that is given wins; otherwise the config file's value; otherwise the
default. Numbers given as flags go through the same pydantic models as the file, so
the limits and the messages are the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ristbond_core.config.models import RistbondConfig
from ristbond_core.contracts import SessionTransport
from ristbond_core.errors import RistbondError
from ristbond_core.plugins import PluginHost
from ristbond_core.runtime.report import start_health
from ristbond_core.runtime.transport_api import RuntimeTransport
from ristbond_core.telemetry.dispatch import TelemetryDispatcher, build_dispatcher
from ristbond_core.telemetry.health import HealthServer

M = TypeVar("M", bound=BaseModel)


def override(section: M, flags: dict[str, tuple[str, Any]]) -> M:
    """``section`` with ``{field: (flag name, value)}`` applied where the value is not None."""
    given = {name: value for name, (_, value) in flags.items() if value is not None}
    if not given:
        return section
    try:
        return type(section).model_validate({**section.model_dump(), **given})
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        flag = flags.get(name, (name, None))[0]
        raise RistbondError(f"{flag} {given.get(name)!r}: {error['msg']}") from None


def check_duration(duration_s: float | None) -> None:
    """``--duration`` must be a positive number of seconds."""
    if duration_s is not None and not duration_s > 0:
        raise RistbondError(f"--duration {duration_s:g}: must be a positive number of seconds")


def check_stats_interval(interval_ms: int) -> None:
    """Stats intervals between 100 ms and a minute, like ``[telemetry] interval_ms``."""
    if not 100 <= interval_ms <= 60_000:
        raise RistbondError(f"--stats-interval-ms {interval_ms}: must be 100..60000")


def add_node_arguments(parser: Any, *, duration_help: str) -> None:
    """The flags ``ristbond send`` and ``ristbond receive`` share."""
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML config file")
    parser.add_argument("--transport", metavar="NAME",
                        help="transport plugin: udp (the core's RIST engines) or a session "
                        "transport such as librist (default: [transport] name)")
    parser.add_argument("--stats-json", metavar="FILE|-",
                        help="write one stats snapshot per interval as JSON lines")
    parser.add_argument("--stats-interval-ms", type=int, metavar="MS",
                        help="stats interval (default: [telemetry] interval_ms)")
    parser.add_argument("--duration", type=float, metavar="S", help=duration_help)


def stats_interval_ms(args: Any, config: RistbondConfig) -> int:
    """Check ``--duration`` and resolve the stats interval (flag, else config)."""
    check_duration(args.duration)
    interval: int = args.stats_interval_ms or config.telemetry.interval_ms
    check_stats_interval(interval)
    return interval


def start_telemetry(
    host: PluginHost, config: RistbondConfig, transport: RuntimeTransport | SessionTransport
) -> tuple[TelemetryDispatcher, HealthServer | None]:
    """The configured exporters and health endpoint; on failure nothing is left open."""
    telemetry = None
    try:
        telemetry = build_dispatcher(host, config.telemetry)
        health = start_health(config.telemetry.health, telemetry)
    except BaseException:
        if telemetry is not None:
            telemetry.close(timeout_s=1.0)
        transport.close()
        raise
    return telemetry, health


def transport_choice(args: Any, config: RistbondConfig,
                     host: PluginHost) -> tuple[str, dict[str, Any]]:
    """The transport name and options: ``--transport`` wins over ``[transport]``.

    The config's options belong to the config's transport; a different transport
    named on the command line starts from its own defaults.
    """
    name: str = args.transport or config.transport.name
    if args.transport is not None:
        host.require("transport", args.transport, "--transport")
    options = dict(config.transport.options) if name == config.transport.name else {}
    return name, options
