"""Turn pydantic validation errors into lines that name the key, the value and the fix."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError


def key_path(prefix: str, loc: tuple[int | str, ...]) -> str:
    """``links[0].weight`` style path for a pydantic error location."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path or "(top level)"


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class that owns the keys at ``loc`` (for "did you mean")."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    """The BaseModel inside ``X``, ``list[X]`` or ``X | None`` annotations."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _fix_for(error: Any, known: list[str]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    name = str(error["loc"][-1]) if error["loc"] else ""
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        if close:
            return f"did you mean {close[0]!r}?"
        return f"remove it (known keys: {', '.join(sorted(known))})" if known else "remove it"
    if kind == "missing":
        return "add this key"
    bounds = {
        "greater_than": "use a value > {gt}",
        "greater_than_equal": "use a value >= {ge}",
        "less_than": "use a value < {lt}",
        "less_than_equal": "use a value <= {le}",
    }
    if kind in bounds:
        return bounds[kind].format(**ctx)
    if kind.startswith("int"):
        return "use a whole number"
    if kind.startswith("float"):
        return "use a number"
    if kind.startswith("bool"):
        return "use true or false"
    if kind.startswith("string"):
        return "use a quoted string"
    if kind.startswith(("list", "tuple")):
        return "use a list, e.g. [\"a\", \"b\"]"
    if kind.startswith(("dict", "model")):
        return "use a table"
    if kind == "literal_error":
        return f"use one of {ctx.get('expected', '')}"
    return "see docs/configuration.md"


def format_validation_error(
    exc: ValidationError, prefix: str, model: type[BaseModel]
) -> list[str]:
    """One line per problem: ``key: value 'x' is invalid: reason — fix``."""
    lines: list[str] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        path = key_path(prefix, loc)
        owner = _model_at(model, loc[:-1])
        known = list(owner.model_fields) if owner is not None else []
        fix = _fix_for(error, known)
        if error["type"] == "extra_forbidden":
            lines.append(f"{path}: unknown key — {fix}")
        elif error["type"] == "missing":
            lines.append(f"{path}: required key is missing — {fix}")
        elif error["type"] == "value_error":
            # Our own validators already phrase the fix in their message.
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{path}: value {error.get('input')!r} is invalid — {message}")
        else:
            value = error.get("input")
            lines.append(f"{path}: value {value!r} is invalid: {error['msg']} — {fix}")
    return lines
