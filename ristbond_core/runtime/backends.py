"""Turning config names into objects: the transport and the link set."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ristbond_core.config.models import LinkConfig
from ristbond_core.errors import RistbondError
from ristbond_core.plugins import PluginHost
from ristbond_core.runtime.transport_api import RuntimeTransport


def create_transport(host: PluginHost, name: str, options: Mapping[str, Any]) -> RuntimeTransport:
    """Build the named transport; it must be a datagram transport the runtime can drive."""
    validated = host.validate_options("transport", name, options, "transport.name",
                                      "transport.options")
    backend = host.transports.get(name)
    assert backend is not None  # validate_options required it
    transport = backend.factory(validated)
    if not isinstance(transport, RuntimeTransport):
        close = getattr(transport, "close", None)
        if callable(close):
            close()
        raise RistbondError(
            f"transport.name: {name!r} is not a datagram transport with links and listeners; "
            "ristbond send/receive drive datagram transports such as 'udp'"
        )
    return transport


def merge_links(config_links: Sequence[LinkConfig],
                cli_links: Sequence[LinkConfig]) -> dict[str, LinkConfig]:
    """Config ``[[links]]`` plus every ``--link``; a ``--link`` replaces a same-id config link."""
    merged = {link.id: link for link in config_links}
    merged.update((link.id, link) for link in cli_links)
    return merged
