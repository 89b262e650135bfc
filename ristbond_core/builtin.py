"""The core's own plugin: registered through the same entry point path as any other."""

from __future__ import annotations

from ristbond_core.hookspecs import hookimpl
from ristbond_core.registry import TelemetryRegistry
from ristbond_core.telemetry.json_udp import JsonUdpOptions, make_json_udp
from ristbond_core.telemetry.jsonl import JsonlOptions, make_jsonl


@hookimpl
def ristbond_register_telemetry_exporters(registry: TelemetryRegistry) -> None:
    """The core ships the ``jsonl`` and ``json-udp`` exporters."""
    registry.add(
        "jsonl",
        make_jsonl,
        options=JsonlOptions,
        description="stats snapshots as JSON lines to a file or stdout",
    )
    registry.add(
        "json-udp",
        make_json_udp,
        options=JsonUdpOptions,
        description="stats snapshots as JSON datagrams to a UDP address (never blocks)",
    )
