"""The core's own plugin: registered through the same entry point path as any other."""

from __future__ import annotations

from ristbond_core.hookspecs import hookimpl
from ristbond_core.registry import TelemetryRegistry
from ristbond_core.telemetry.jsonl import JsonlOptions, make_jsonl


@hookimpl
def ristbond_register_telemetry_exporters(registry: TelemetryRegistry) -> None:
    """The core ships the ``jsonl`` exporter."""
    registry.add(
        "jsonl",
        make_jsonl,
        options=JsonlOptions,
        description="stats snapshots as JSON lines to a file or stdout",
    )
