"""Docs cannot drift from the code: every hook has its own documented section."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from ristbond_core import hookspecs

DOCS = Path(__file__).resolve().parents[2] / "docs"
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("ristbond_"))


def sections(markdown: str) -> dict[str, str]:
    """``## heading`` → the text under it."""
    parts = re.split(r"^## +(\S+)\s*$", markdown, flags=re.M)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def test_there_are_hooks_for_the_four_plugin_kinds() -> None:
    for kind in ("transports", "schedulers", "feedback_sources", "telemetry_exporters"):
        assert f"ristbond_register_{kind}" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docstring(hook: str) -> None:
    assert inspect.getdoc(getattr(hookspecs, hook))


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_in_docs(hook: str) -> None:
    documented = sections((DOCS / "hooks.md").read_text(encoding="utf-8"))
    assert len(documented.get(hook, "")) > 80, f"docs/hooks.md needs a '## {hook}' section"


def test_docs_name_no_hook_that_does_not_exist() -> None:
    documented = sections((DOCS / "hooks.md").read_text(encoding="utf-8"))
    assert sorted(documented) == HOOKS
