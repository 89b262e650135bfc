"""Upgrade older config files to the current schema, one version step at a time.

Version 1 followed the short form of the original design card: backends as plain
strings at the top level (``transport = "udp"``, ``scheduler = "dwrr"``,
``telemetry = ["jsonl"]``), scheduler options in ``scheduler_options`` and links
addressed as ``address = "HOST:PORT"`` with an optional ``name``. Version 2 gives
each backend a table with ``name`` and ``options`` so every plugin's options are
validated by that plugin's own model. See docs/config_migration.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ristbond_core.config.models import CURRENT_VERSION, OLDEST_VERSION
from ristbond_core.errors import ConfigError

Raw = dict[str, Any]


def _v1_to_v2(raw: Raw, notes: list[str]) -> Raw:
    out = dict(raw)
    for key in ("transport", "scheduler"):
        if isinstance(out.get(key), str):
            out[key] = {"name": out[key]}
            notes.append(f"{key} = {raw[key]!r} became [{key}] name = {raw[key]!r}")
    if "scheduler_options" in out:
        table = dict(out.get("scheduler") or {})
        table["options"] = out.pop("scheduler_options")
        out["scheduler"] = table
        notes.append("scheduler_options moved to [scheduler.options]")
    if isinstance(out.get("telemetry"), list):
        out["telemetry"] = {"exporters": out["telemetry"]}
        notes.append("telemetry = [...] became [telemetry] exporters = [...]")
    links = out.get("links")
    if isinstance(links, list):
        new_links = []
        for index, original in enumerate(links):
            if not isinstance(original, dict):
                new_links.append(original)
                continue
            link = dict(original)
            if "address" in link and "url" not in link:
                link["url"] = f"rist://{link.pop('address')}"
                notes.append(f"links[{index}].address became links[{index}].url")
            if "name" in link and "id" not in link:
                link["id"] = link.pop("name")
                notes.append(f"links[{index}].name became links[{index}].id")
            link.setdefault("id", f"link{index}")
            new_links.append(link)
        out["links"] = new_links
    out["version"] = 2
    return out


# version N → function producing version N + 1
STEPS: dict[int, Callable[[Raw, list[str]], Raw]] = {1: _v1_to_v2}


def migrate(raw: Raw) -> tuple[Raw, list[str]]:
    """Return ``raw`` upgraded to ``CURRENT_VERSION`` and a note per change made."""
    version = raw.get("version", CURRENT_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ConfigError([f"version: value {version!r} is invalid — use a whole number such as "
                           f"{CURRENT_VERSION}"])
    if version > CURRENT_VERSION:
        raise ConfigError([
            f"version: config version {version} is newer than this ristbond supports "
            f"({CURRENT_VERSION}) — upgrade ristbond or write a version {CURRENT_VERSION} file"
        ])
    if version < OLDEST_VERSION:
        raise ConfigError([
            f"version: config version {version} is not a known version — use {CURRENT_VERSION}"
        ])
    notes: list[str] = []
    while version < CURRENT_VERSION:
        raw = STEPS[version](raw, notes)
        version += 1
    return raw, notes
