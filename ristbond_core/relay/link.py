"""One relayed RIST link: four sockets, two impaired directions, counters and live control.

Forward traffic (sender → receiver) arrives on the listen RTP/RTCP ports and leaves
from an even/odd port pair towards the forward address. Reverse traffic (the
receiver's RTCP: NACKs, echo responses, reports) arrives on that pair and goes back to
whichever address last sent on the matching listen port, so a sender behind the
relay hears its receiver.
"""

from __future__ import annotations

import dataclasses
import random
import socket
from dataclasses import dataclass
from typing import Any, Literal

from ristbond_core.errors import RistbondError
from ristbond_core.relay.sockets import (
    Address,
    bind_ephemeral_pair,
    bind_port_pair,
    resolve,
    source_address_for,
)
from ristbond_core.relay.spec import LinkSpec, apply_impairment
from ristbond_core.sim.link_model import LinkModel, SimPath

DirectionName = Literal["forward", "reverse", "both"]


@dataclass(slots=True)
class DirectionCounters:
    """Cumulative counts of one direction that the ``SimPath`` does not keep itself."""

    received: int = 0
    received_bytes: int = 0
    forwarded: int = 0
    forwarded_bytes: int = 0
    dropped_overflow: int = 0
    dropped_no_peer: int = 0
    send_errors: int = 0


class RelayDirection:
    """A ``SimPath`` over the real clock plus counters and a bound on datagrams in flight."""

    def __init__(self, name: str, model: LinkModel, rng: random.Random, max_pending: int) -> None:
        self.name = name
        self.path = SimPath(model, rng)
        self.counters = DirectionCounters()
        self.max_pending = max_pending
        self.pending = 0

    @property
    def model(self) -> LinkModel:
        """The live model; changing its fields changes the impairment of later datagrams."""
        return self.path.model

    def admit(self, size_bytes: int, now_ns: int) -> list[int]:
        """Delivery times of a datagram received now: none (dropped), one, or two (duplicated)."""
        self.counters.received += 1
        self.counters.received_bytes += size_bytes
        if self.pending >= self.max_pending:
            # Past this bound the relay itself would be the bottleneck: drop, never grow.
            self.counters.dropped_overflow += 1
            return []
        arrivals = self.path.offer_all(size_bytes, now_ns)
        self.pending += len(arrivals)
        return arrivals

    def stats(self) -> dict[str, Any]:
        """Counters and the current model, as plain JSON-ready values."""
        counts = dataclasses.asdict(self.counters)
        counts.update(
            dropped_loss=self.path.dropped_loss,
            dropped_queue=self.path.dropped_queue,
            dropped_outage=self.path.dropped_outage,
            duplicated=self.path.duplicated,
            reordered=self.path.reordered,
            in_flight=self.pending,
            model=dataclasses.asdict(self.path.model),
        )
        return counts


class RelayLink:
    """The sockets and both directions of one link; safe to control from another thread.

    Control calls only assign model fields, which the relay loop reads on each
    datagram, so no lock is needed.
    """

    def __init__(self, spec: LinkSpec, seed: int, index: int, max_pending: int) -> None:
        self.name = spec.name
        self.spec = spec
        # One generator per direction, derived from the seed and the link's position, so
        # adding traffic in one direction never changes the draws of the other.
        self.forward = RelayDirection(
            "forward", spec.forward_model, random.Random(seed * 1009 + index * 2), max_pending
        )
        self.reverse = RelayDirection(
            "reverse", spec.reverse_model, random.Random(seed * 1009 + index * 2 + 1), max_pending
        )
        listen_family, listen = resolve(*spec.listen, option=f"{self.name}: --listen")
        forward_family, forward = resolve(*spec.forward, option=f"{self.name}: --forward")
        self.forward_rtp: Address = forward
        self.forward_rtcp: Address = (forward[0], forward[1] + 1)
        self.listen_rtp, self.listen_rtcp = bind_port_pair(
            listen_family, listen[0], listen[1], f"{self.name}: --listen"
        )
        try:
            local = source_address_for(forward_family, forward)
            self.out_rtp, self.out_rtcp = bind_ephemeral_pair(
                forward_family, local, f"{self.name}: --forward"
            )
        except RistbondError:
            self.listen_rtp.close()
            self.listen_rtcp.close()
            raise
        # The sender's address per listen port, learnt from what it sends.
        self.peer_rtp: Address | None = None
        self.peer_rtcp: Address | None = None

    def sockets(self) -> list[socket.socket]:
        """Every socket of the link, for registration with the selector."""
        return [self.listen_rtp, self.listen_rtcp, self.out_rtp, self.out_rtcp]

    def directions(self, which: DirectionName) -> list[RelayDirection]:
        """The direction objects a control call addresses."""
        if which == "forward":
            return [self.forward]
        if which == "reverse":
            return [self.reverse]
        if which == "both":
            return [self.forward, self.reverse]
        raise RistbondError(f"direction must be forward, reverse or both, not {which!r}")

    def set_up(self, up: bool, which: DirectionName = "both") -> None:
        """Start (``False``) or end (``True``) an outage: everything offered is dropped."""
        for direction in self.directions(which):
            direction.model.up = up

    def update(self, which: DirectionName = "both", **impairments: object) -> None:
        """Change impairments while running, in the links-file vocabulary (``loss="5%"``).

        Every value is checked before any is applied, so a bad call changes nothing.
        """
        targets = self.directions(which)
        for direction in targets:
            trial = dataclasses.replace(direction.model)
            for key, value in impairments.items():
                apply_impairment(trial, key, value, f"{self.name}.{direction.name}.{key}")
        for direction in targets:
            for key, value in impairments.items():
                apply_impairment(direction.model, key, value, key)

    def stats(self) -> dict[str, Any]:
        """Addresses and both directions' counters."""
        return {
            "name": self.name,
            "listen": f"{self.spec.listen[0]}:{self.spec.listen[1]}",
            "forward_to": f"{self.forward_rtp[0]}:{self.forward_rtp[1]}",
            "forward": self.forward.stats(),
            "reverse": self.reverse.stats(),
        }

    def close(self) -> None:
        """Close every socket (idempotent)."""
        for sock in self.sockets():
            sock.close()
