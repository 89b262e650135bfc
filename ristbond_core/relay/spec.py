"""What a relay link is: addresses plus one ``LinkModel`` per direction, from options or TOML.

The CLI options and the links file share one vocabulary (``rate``, ``delay``, ``jitter``,
``loss``, ``queue``, ``reorder``) so a link reads the same in both places. Any other
``LinkModel`` field can be set in a links file by its own name, which keeps the file
usable as the simulator's link model grows.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ristbond_core.errors import RistbondError
from ristbond_core.relay.units import (
    parse_count,
    parse_duration_ms,
    parse_endpoint,
    parse_rate_bps,
    parse_ratio,
)
from ristbond_core.sim.link_model import LinkModel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

Endpoint = tuple[str, int]

# Short, human keys shared by options and the links file; any LinkModel field name works too.
IMPAIRMENT_KEYS = ("rate", "delay", "jitter", "loss", "queue", "reorder_delay", "jitter_reorders")
LINK_KEYS = ("name", "listen", "forward", "reverse", *IMPAIRMENT_KEYS)


@dataclass(slots=True)
class LinkSpec:
    """One relayed RIST link: RTP on ``listen``/``forward`` ports, RTCP on the next port."""

    name: str
    listen: Endpoint
    forward: Endpoint
    forward_model: LinkModel
    reverse_model: LinkModel


def apply_impairment(model: LinkModel, key: str, value: object, where: str) -> None:
    """Set one impairment on ``model``; ``where`` names the option or key for errors."""
    if key == "rate":
        model.rate_bps = None if value in (None, "0", 0, "none", "off") else parse_rate_bps(
            where, value
        )
    elif key == "delay":
        model.delay_ms = parse_duration_ms(where, value)
    elif key == "jitter":
        model.jitter_ms = parse_duration_ms(where, value)
    elif key == "loss":
        model.loss = parse_ratio(where, value)
    elif key == "queue":
        model.queue_packets = parse_count(where, value)
    elif key == "reorder_delay":
        _set_raw_field(model, "reorder_ms", parse_duration_ms(where, value), where)
    elif key == "jitter_reorders":
        if not isinstance(value, bool):
            raise RistbondError(f"{where}: expected true or false, got {value!r}")
        model.preserve_order = not value
    elif key in _model_field_names():
        _set_raw_field(model, key, value, where)
    else:
        known = ", ".join([*IMPAIRMENT_KEYS, *sorted(_model_field_names())])
        raise RistbondError(f"{where}: unknown impairment (known: {known})")


def _model_field_names() -> set[str]:
    return {field.name for field in dataclasses.fields(LinkModel)}


def _set_raw_field(model: LinkModel, key: str, value: object, where: str) -> None:
    """Set a LinkModel field by its own name, read by the kind its name and value say.

    ``*_ms`` fields are durations, ``*_bps`` fields rates, other numbers probabilities
    (``reorder = "1%"``); booleans and whole numbers must be given as such.
    """
    current = getattr(model, key)
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise RistbondError(f"{where}: expected true or false, got {value!r}")
    elif key.endswith("_bps"):
        value = parse_rate_bps(where, value)
    elif key.endswith("_ms"):
        value = parse_duration_ms(where, value)
    elif isinstance(current, int):
        value = parse_count(where, value)
    elif isinstance(current, float):
        value = parse_ratio(where, value)
    else:
        raise RistbondError(f"{where}: {key} cannot be set from a links file or option")
    setattr(model, key, value)


def model_from(impairments: Mapping[str, object], where: str, base: LinkModel | None = None
               ) -> LinkModel:
    """A model with ``impairments`` applied over ``base`` (or over no impairment at all)."""
    model = copy.copy(base) if base is not None else LinkModel(delay_ms=0.0)
    for key, value in impairments.items():
        apply_impairment(model, key, value, f"{where}{key}")
    return model


def load_links_file(path: Path | str) -> list[LinkSpec]:
    """Read a links file: ``[[links]]`` tables with listen, forward and impairments."""
    file = Path(path)
    try:
        document = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RistbondError(f"--links: {file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RistbondError(f"--links: {file}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RistbondError(f"--links: {file}: not valid TOML: {exc}") from None
    return links_from_document(document, str(file))


def links_from_document(document: Mapping[str, Any], source: str) -> list[LinkSpec]:
    """Validate a parsed links file; every error names the file and key."""
    unknown_top = sorted(set(document) - {"links"})
    if unknown_top:
        raise RistbondError(f"{source}: unknown key {unknown_top[0]!r} (expected [[links]])")
    tables = document.get("links")
    if not isinstance(tables, list) or not tables:
        raise RistbondError(f"{source}: needs at least one [[links]] table")
    specs: list[LinkSpec] = []
    for index, table in enumerate(tables):
        where = f"{source}: links[{index}]."
        if not isinstance(table, dict):
            raise RistbondError(f"{where[:-1]}: must be a table")
        specs.append(_link_from_table(table, index, where))
    check_unique(specs, source)
    return specs


def _link_from_table(table: Mapping[str, Any], index: int, where: str) -> LinkSpec:
    for required in ("listen", "forward"):
        if required not in table:
            raise RistbondError(f"{where}{required}: missing (HOST:PORT)")
    name = table.get("name", f"link{index}")
    if not isinstance(name, str) or not name or any(ch.isspace() for ch in name):
        raise RistbondError(f"{where}name: must be a word without spaces, got {name!r}")
    impairments = {k: v for k, v in table.items() if k not in ("name", "listen", "forward",
                                                              "reverse")}
    forward_model = model_from(impairments, where)
    reverse_table = table.get("reverse", {})
    if not isinstance(reverse_table, dict):
        raise RistbondError(f"{where}reverse: must be a table of impairments")
    reverse_model = model_from(reverse_table, f"{where}reverse.", base=forward_model)
    return LinkSpec(
        name=name,
        listen=parse_endpoint(f"{where}listen", table["listen"]),
        forward=parse_endpoint(f"{where}forward", table["forward"]),
        forward_model=forward_model,
        reverse_model=reverse_model,
    )


def check_unique(specs: list[LinkSpec], source: str) -> None:
    """Reject two links with one name or one listen address (they could not both bind)."""
    names: set[str] = set()
    listens: set[Endpoint] = set()
    for spec in specs:
        if spec.name in names:
            raise RistbondError(f"{source}: link name {spec.name!r} is used twice")
        if spec.listen in listens:
            raise RistbondError(f"{source}: listen {spec.listen[0]}:{spec.listen[1]} is used twice")
        names.add(spec.name)
        listens.add(spec.listen)

