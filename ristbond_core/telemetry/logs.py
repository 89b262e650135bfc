"""Logging setup: plain or JSON lines, and no secret ever reaches the output.

Operators ship logs to places that are less protected than the config file, so PSKs,
SRP passwords and URL tokens are masked on the handler, whatever logger emitted the
record: in the formatted message and its arguments, in exception text and in
``extra=`` fields. The masking rules are ``ristbond_core.config.redact``'s, plus
``key=value`` pairs in free text (``psk=...``) that are not inside a URL.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import IO, Any

from ristbond_core.config.redact import REDACTED, SECRET_KEY, redact, redact_text

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
# ``psk=abc``, ``password: abc``, ``token abc`` is left alone (too ambiguous).
_FREE_TEXT_SECRET = re.compile(
    r"(?P<key>\b(?:[a-z0-9_-]*(?:secret|passw(?:or)?d|psk|token|passphrase|api[_-]?key)"
    r"[a-z0-9_-]*)\b['\"]?\s*[=:]\s*['\"]?)(?P<value>(?!\*\*\*)[^\s,;'\"&}]+)",
    re.I,
)
_HANDLER_MARK = "_ristbond_handler"


def scrub(text: str) -> str:
    """``redact_text`` plus free-text ``secret=value`` pairs."""
    return _FREE_TEXT_SECRET.sub(lambda m: m.group("key") + REDACTED, redact_text(text))


def _scrub_value(value: Any, key: str = "") -> Any:
    """Structured redaction first (by key name), then text scrubbing of what is left."""
    value = redact(value, key)
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub_value(v, key) for v in value)
    return value


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of ``record``."""
    return {k: v for k, v in vars(record).items()
            if k not in _STANDARD_ATTRS and not k.startswith("_")}


class RedactingFilter(logging.Filter):
    """Masks secrets in a record in place; attach it to handlers, it never drops records."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the template, drop the args
            message = f"{record.msg!s} (unformattable arguments)"
        args = record.args
        if isinstance(args, Mapping) and args:
            # ``log.info("%(url)s", {"url": ...})``: re-render from masked values.
            try:
                message = str(record.msg) % _scrub_value(dict(args))
            except Exception:
                message = scrub(message)
        elif args:
            try:
                message = str(record.msg) % tuple(_scrub_value(a) for a in args)
            except Exception:
                message = scrub(message)
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            # The traceback is now text; formatters must not render the original again.
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        for key, value in extra_fields(record).items():
            masked = REDACTED if SECRET_KEY.search(key) and value not in (None, "") \
                else _scrub_value(value, key)
            setattr(record, key, masked)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            document.setdefault(key, value)
        if record.exc_info and record.exc_info[0] is not None:
            document["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = record.stack_info
        # The last guard: whatever a value held, the line itself is scrubbed too.
        return scrub(json.dumps(document, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """``ristbond: LEVEL: message [key=value ...]``, scrubbed as a whole."""

    def __init__(self) -> None:
        super().__init__("ristbond: %(levelname)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = extra_fields(record)
        if extras:
            first, newline, rest = text.partition("\n")
            pairs = " ".join(f"{k}={v!r}" for k, v in sorted(extras.items()))
            text = f"{first} [{pairs}]{newline}{rest}"
        return scrub(text)


def configure_logging(
    level: int | str = logging.WARNING,
    *,
    json_lines: bool = False,
    stream: IO[str] | None = None,
    logger: logging.Logger | None = None,
) -> logging.Handler:
    """Install one redacting handler (text or JSON lines) on ``logger`` (root by default).

    Calling it again replaces the handler it installed before, so it is safe to call
    from a CLI entry point and again from tests.
    """
    target = logger or logging.getLogger()
    for old in [h for h in target.handlers if getattr(h, _HANDLER_MARK, False)]:
        target.removeHandler(old)
        old.close()
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    target.addHandler(handler)
    target.setLevel(level)
    return handler
