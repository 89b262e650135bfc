"""Keep secrets (PSKs, SRP passwords, URL tokens) out of anything printed."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***"
SECRET_KEY = re.compile(r"(secret|passw(or)?d|psk|token|passphrase|srp|api[_-]?key)", re.I)
URL_SECRET = re.compile(
    r"(?P<key>[?&](?:secret|password|passphrase|token|psk|srp-password)=)[^&#\s]*", re.I
)
URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]+:[^/@\s]+@", re.I)


def redact_text(text: str) -> str:
    """Mask secret query parameters and user:password parts inside URLs in ``text``."""
    text = URL_SECRET.sub(lambda m: m.group("key") + REDACTED, text)
    return URL_USERINFO.sub(lambda m: m.group("scheme") + REDACTED + "@", text)


def redact(value: Any, key: str = "") -> Any:
    """A copy of ``value`` with secret-named keys and secrets inside URLs masked."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if key and SECRET_KEY.search(key) and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    return value
