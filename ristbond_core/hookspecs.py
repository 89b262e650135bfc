"""The plugin contract: every hook a ristbond plugin may implement.

A plugin is a module (or object) named by an entry point in the group
``ristbond.plugins``; it implements any of these hooks with
``@ristbond_core.hookimpl``. Registration hooks are called once at start-up, each
with a typed registry to fill; event hooks fan out observations and are never on
the per-packet path. Each hook is documented in ``docs/hooks.md`` (a test checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy

from ristbond_core.events import LinkStateChanged
from ristbond_core.registry import (
    FeedbackRegistry,
    SchedulerRegistry,
    TelemetryRegistry,
    TransportRegistry,
)

PROJECT_NAME = "ristbond"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def ristbond_register_transports(registry: TransportRegistry) -> None:
    """Register transport factories, e.g. ``registry.add("udp", UdpTransport, options=UdpOptions)``.

    A datagram transport only moves datagrams for each link; a session transport
    (such as librist) runs the RIST protocol itself.
    """


@hookspec
def ristbond_register_schedulers(registry: SchedulerRegistry) -> None:
    """Register scheduler factories; each is called with a ``SchedulerSetup``.

    ``registry.add("dwrr", DwrrScheduler, options=DwrrOptions)`` makes ``dwrr``
    selectable as ``[scheduler] name = "dwrr"``.
    """


@hookspec
def ristbond_register_feedback_sources(registry: FeedbackRegistry) -> None:
    """Register feedback-source factories: producers of per-link measurements
    beyond RTCP (modem signal quality, OS interface hints)."""


@hookspec
def ristbond_register_telemetry_exporters(registry: TelemetryRegistry) -> None:
    """Register telemetry exporter factories; config selects several by name in
    ``[telemetry] exporters = [...]``."""


@hookspec
def ristbond_link_state_changed(event: LinkStateChanged) -> None:
    """Observe a link lifecycle transition (fan-out; must return quickly)."""


@hookspec
def ristbond_stats_snapshot(snapshot: Mapping[str, Any]) -> None:
    """Observe each stats snapshot (the versioned schema) as it is produced."""
