"""Test helpers shipped with the core, for plugin authors and for the core's own suite.

``SchedulerConformance`` (from :mod:`ristbond_core.testing.conformance`) is a
reusable pytest suite that a scheduler plugin's tests subclass to check the
``Scheduler`` contract. The pytest plugin (:mod:`ristbond_core.testing.pytest_plugin`)
loads automatically and offers link-building fixtures.

Names are resolved lazily so that importing this package (which pytest does in every
run on a machine with ristbond installed) costs nothing until a helper is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ristbond_core.testing.conformance import (
        SchedulerConformance,
        StreamResult,
        byte_fractions,
        make_link,
        run_stream,
    )

__all__ = ["SchedulerConformance", "StreamResult", "byte_fractions", "make_link", "run_stream"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ristbond_core.testing import conformance

        return getattr(conformance, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
