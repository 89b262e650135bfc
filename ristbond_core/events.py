"""Engine and lifecycle events: small frozen dataclasses, observed via fan-out hooks."""

from __future__ import annotations

from dataclasses import dataclass

from ristbond_core.contracts import LinkState


@dataclass(frozen=True, slots=True)
class LinkStateChanged:
    """A link's lifecycle moved from ``old`` to ``new`` because of ``reason``."""

    link_id: str
    old: LinkState
    new: LinkState
    reason: str
    at_ns: int
