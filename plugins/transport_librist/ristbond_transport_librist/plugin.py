"""The plugin module named by the ``librist`` entry point."""

from __future__ import annotations

from ristbond_core import hookimpl
from ristbond_core.registry import TransportRegistry
from ristbond_transport_librist.options import LibristOptions
from ristbond_transport_librist.transport import make_librist_transport


@hookimpl
def ristbond_register_transports(registry: TransportRegistry) -> None:
    """Make ``librist`` selectable as ``[transport] name = "librist"``."""
    registry.add(
        "librist",
        make_librist_transport,
        options=LibristOptions,
        description="RIST session run by librist (main profile by default: one port per "
                    "link, PSK encryption); scheduler shares become librist peer weights",
    )
