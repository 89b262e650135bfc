"""docs/lifecycle.md embeds tables generated from the code; they cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ristbond_core.engine.lifecycle import (
    TRANSITIONS,
    render_config_table,
    render_transition_table,
)
from ristbond_core.engine.lifecycle_config import LifecycleConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md"


def generated_block(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(
        rf"<!-- BEGIN GENERATED: {name} -->\n(.*?)<!-- END GENERATED: {name} -->",
        text,
        flags=re.S,
    )
    assert match, f"docs/lifecycle.md lacks the generated {name}"
    return match.group(1)


def test_docs_contain_exactly_the_transition_table() -> None:
    assert generated_block("transition table") == render_transition_table(), (
        "regenerate with: python -m ristbond_core.engine.lifecycle"
    )


def test_docs_contain_exactly_the_config_table() -> None:
    assert generated_block("config table") == render_config_table()


def test_rendered_table_has_one_line_per_transition() -> None:
    assert len(render_transition_table().splitlines()) == len(TRANSITIONS) + 2


@pytest.mark.parametrize("name", sorted(LifecycleConfig.model_fields))
def test_every_config_key_has_a_unit_and_a_description(name: str) -> None:
    field = LifecycleConfig.model_fields[name]
    assert field.description
    units = ("_ms", "_bytes", "_count", "_share", "_factor", "_ratio", "_fraction", "_samples")
    assert name.endswith(units), f"{name} should say its unit"


def test_config_rejects_unknown_keys_and_inconsistent_timers() -> None:
    with pytest.raises(ValueError, match="extra"):
        LifecycleConfig.model_validate({"probe_ms": 5})
    with pytest.raises(ValueError, match="cooldown_max_ms"):
        LifecycleConfig(cooldown_ms=5_000, cooldown_max_ms=1_000)
    with pytest.raises(ValueError, match="fast_probe_duration_ms"):
        LifecycleConfig(probe_duration_ms=100, fast_probe_duration_ms=200)
