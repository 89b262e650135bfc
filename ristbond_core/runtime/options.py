"""Command-line flags over config values: the precedence rule lives here, once.

A flag that is given wins; otherwise the config file's value; otherwise the
default. Numbers given as flags go through the same pydantic models as the file, so
the limits and the messages are the same.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ristbond_core.errors import RistbondError

M = TypeVar("M", bound=BaseModel)


def override(section: M, flags: dict[str, tuple[str, Any]]) -> M:
    """``section`` with ``{field: (flag name, value)}`` applied where the value is not None."""
    given = {name: value for name, (_, value) in flags.items() if value is not None}
    if not given:
        return section
    try:
        return type(section).model_validate({**section.model_dump(), **given})
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        flag = flags.get(name, (name, None))[0]
        raise RistbondError(f"{flag} {given.get(name)!r}: {error['msg']}") from None


def check_duration(duration_s: float | None) -> None:
    """``--duration`` must be a positive number of seconds."""
    if duration_s is not None and not duration_s > 0:
        raise RistbondError(f"--duration {duration_s:g}: must be a positive number of seconds")


def check_stats_interval(interval_ms: int) -> None:
    """Stats intervals between 100 ms and a minute, like ``[telemetry] interval_ms``."""
    if not 100 <= interval_ms <= 60_000:
        raise RistbondError(f"--stats-interval-ms {interval_ms}: must be 100..60000")
