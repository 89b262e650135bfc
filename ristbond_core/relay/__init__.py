"""User-space impairment relay: the simulator's link models applied to real datagrams.

Kernel netem is not available everywhere ristbond is tested, so this package relays
RIST links (RTP port P, RTCP port P+1) through ``SimPath`` in real time: delay, jitter,
loss, rate with a finite queue and outages, each direction on its own.
"""

from __future__ import annotations

from ristbond_core.relay.control import ControlPort, execute, send_command
from ristbond_core.relay.link import RelayDirection, RelayLink
from ristbond_core.relay.relay import Relay
from ristbond_core.relay.spec import LinkSpec, load_links_file, model_from

__all__ = [
    "ControlPort",
    "LinkSpec",
    "Relay",
    "RelayDirection",
    "RelayLink",
    "execute",
    "load_links_file",
    "model_from",
    "send_command",
]
