"""pytest plugin registered by the core (entry point ``pytest11: ristbond``).

It loads in every pytest run on a machine where ristbond is installed, so it only
defines fixtures and imports the conformance helpers when a fixture is first used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ristbond_core.contracts import LinkView
    from ristbond_core.testing.conformance import StreamResult


@pytest.fixture
def scheduler_links() -> Callable[..., LinkView]:
    """Builder of ``LinkView`` objects with plausible metrics.

    ``scheduler_links("lte", capacity_bps=2e6, loss=0.05, usable=False)``; see
    ``ristbond_core.testing.conformance.make_link`` for every keyword.
    """
    from ristbond_core.testing.conformance import make_link

    return make_link


@pytest.fixture
def scheduler_stream() -> Callable[..., StreamResult]:
    """Runs a paced stream of packets through a scheduler and tallies the selections.

    ``scheduler_stream(scheduler, links, 10_000, sizes=...)`` returns a
    ``StreamResult`` with every selection and the bytes carried per link.
    """
    from ristbond_core.testing.conformance import run_stream

    return run_stream
