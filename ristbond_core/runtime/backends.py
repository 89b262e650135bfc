"""Turning config names into objects: the transport and the link set."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ristbond_core.config.models import LinkConfig
from ristbond_core.contracts import SessionTransport
from ristbond_core.errors import RistbondError
from ristbond_core.plugins import PluginHost
from ristbond_core.runtime.transport_api import RuntimeTransport


def create_transport(host: PluginHost, name: str,
                     options: Mapping[str, Any]) -> RuntimeTransport | SessionTransport:
    """Build the named transport: a datagram transport the engines drive, or a session
    transport that runs the protocol itself."""
    validated = host.validate_options("transport", name, options, "transport.name",
                                      "transport.options")
    backend = host.transports.get(name)
    assert backend is not None  # validate_options required it
    transport = backend.factory(validated)
    if isinstance(transport, SessionTransport):
        return transport
    if not isinstance(transport, RuntimeTransport):
        close = getattr(transport, "close", None)
        if callable(close):
            close()
        raise RistbondError(
            f"transport.name: {name!r} is neither a datagram transport with links and "
            "listeners nor a session transport; ristbond send/receive drive 'udp' and "
            "'librist' style transports"
        )
    return transport


def merge_links(config_links: Sequence[LinkConfig],
                cli_links: Sequence[LinkConfig]) -> dict[str, LinkConfig]:
    """Config ``[[links]]`` plus every ``--link``; a ``--link`` replaces a same-id config link."""
    merged = {link.id: link for link in config_links}
    merged.update((link.id, link) for link in cli_links)
    return merged
