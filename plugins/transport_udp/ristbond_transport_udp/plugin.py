"""The plugin module named by the ``udp`` entry point."""

from __future__ import annotations

from ristbond_core import hookimpl
from ristbond_core.registry import TransportRegistry
from ristbond_transport_udp.options import UdpOptions
from ristbond_transport_udp.transport import make_udp_transport


@hookimpl
def ristbond_register_transports(registry: TransportRegistry) -> None:
    """Make ``udp`` selectable as ``[transport] name = "udp"``."""
    registry.add(
        "udp",
        make_udp_transport,
        options=UdpOptions,
        description="RIST simple profile over UDP sockets: RTP + RTCP socket pair per link",
    )
