"""Options of the ``librist`` transport and the librist peer URLs built from them.

``[transport.options]`` is ``LibristOptions``. Each link (``[[links]] options`` or the
query of a link/listen URL) is validated by ``LibristLinkOptions``; its keys are
librist's own URL keys, spelt with ``_`` or librist's ``-`` (``aes-type``). Secrets are
``SecretStr``: they appear only in the URL handed to librist, never in ``repr``, logs
or exceptions (``masked_url`` is what error messages show).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from ristbond_core.errors import RistbondError

LogLevel = Literal["disable", "error", "warn", "notice", "info", "debug"]

#: Characters that would end a value inside librist's URL query parser.
_SECRET_FORBIDDEN = set("&=,?#/% \t\r\n")
MASK = "***"


class LibristOptions(BaseModel):
    """``[transport.options]`` of ``librist``; unknown keys are errors.

    ``profile`` defaults to ``main``: it is the profile in which librist bonds properly
    (one port per link, and a librist receiver merges links arriving on different
    listen ports, which the simple profile does not), and the only one offering
    PSK encryption. ``simple`` exists for peers that only speak the simple profile.
    """

    model_config = ConfigDict(extra="forbid")

    profile: Literal["simple", "main"] = Field(
        "main", description="RIST profile librist runs (main: bonding + encryption)")
    log_level: LogLevel = Field(
        "warn", description="lowest librist log level forwarded to Python logging")
    stats_interval_ms: int = Field(
        250, ge=100, le=10_000,
        description="how often librist reports per-link stats (the lifecycle and the "
                    "scheduler react at this pace)")
    initial_weight: int = Field(
        5, ge=0, le=1000,
        description="sender: librist weight of every link until shares are applied "
                    "(equal weights split evenly; 0 duplicates every packet)")
    nack_type: Literal["range", "bitmask"] = Field(
        "range", description="receiver: NACK form librist sends")


def _dash(name: str) -> str:
    return name.replace("_", "-")


class LibristLinkOptions(BaseModel):
    """One link's (or listen address's) librist URL keys; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", alias_generator=_dash, populate_by_name=True)

    buffer: int | None = Field(None, ge=0, le=60_000, description="recovery buffer, ms "
                               "(default: the session latency)")
    buffer_min: int | None = Field(None, ge=0, le=60_000, description="ms")
    buffer_max: int | None = Field(None, ge=0, le=60_000, description="ms")
    rtt_min: int | None = Field(None, ge=1, le=60_000, description="ms")
    rtt_max: int | None = Field(None, ge=1, le=60_000, description="ms")
    reorder_buffer: int | None = Field(None, ge=0, le=60_000, description="ms")
    bandwidth: int | None = Field(None, ge=1, le=100_000_000,
                                  description="recovery bandwidth cap, kbit/s")
    return_bandwidth: int | None = Field(None, ge=0, le=100_000_000, description="kbit/s")
    secret: SecretStr | None = Field(None, description="PSK passphrase (main profile)")
    aes_type: int | None = Field(None, description="AES key size: 128 or 256")
    cname: str | None = Field(None, min_length=1, max_length=127,
                              description="name announced to the peer (default: link id)")
    min_retries: int | None = Field(None, ge=0, le=1000)
    max_retries: int | None = Field(None, ge=0, le=1000)
    session_timeout: int | None = Field(None, ge=0, le=3_600_000, description="ms")
    keepalive_interval: int | None = Field(None, ge=0, le=3_600_000, description="ms")
    congestion_control: int | None = Field(None, ge=0, le=2)

    @field_validator("aes_type")
    @classmethod
    def _known_key_size(cls, value: int | None) -> int | None:
        if value is not None and value not in (128, 256):
            raise ValueError("must be 128 or 256")
        return value

    @field_validator("secret")
    @classmethod
    def _url_safe_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        text = value.get_secret_value()
        if not 1 <= len(text) <= 127:
            raise ValueError("must be 1 to 127 characters")
        if any(ch in _SECRET_FORBIDDEN for ch in text):
            raise ValueError("must not contain spaces or any of & = , ? # / %")
        return value

    @field_validator("cname")
    @classmethod
    def _url_safe_cname(cls, value: str | None) -> str | None:
        if value is not None and any(ch in _SECRET_FORBIDDEN for ch in value):
            raise ValueError("must not contain spaces or any of & = , ? # / %")
        return value


def parse_link_options(raw: Mapping[str, Any], what: str) -> LibristLinkOptions:
    """Validate one link's options; a ``RistbondError`` names ``what`` and every bad key.

    Messages never contain the offending values (one of them may be a secret).
    """
    try:
        return LibristLinkOptions.model_validate(dict(raw))
    except ValidationError as exc:
        known = ", ".join(sorted(_dash(n) for n in LibristLinkOptions.model_fields))
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"]) or "(options)"
            if error["type"] == "extra_forbidden":
                problems.append(f"{what}: unknown librist option {key!r} (known: {known})")
            else:
                problems.append(f"{what}: option {key!r}: {error['msg']}")
        raise RistbondError("\n".join(problems)) from None


def _query(options: LibristLinkOptions, *, latency_ms: int, cname: str | None,
           weight: int | None, mask: bool) -> str:
    params: list[tuple[str, str]] = []
    buffer = options.buffer if options.buffer is not None else latency_ms
    params.append(("buffer", str(buffer)))
    simple = {
        "buffer-min": options.buffer_min, "buffer-max": options.buffer_max,
        "rtt-min": options.rtt_min, "rtt-max": options.rtt_max,
        "reorder-buffer": options.reorder_buffer, "bandwidth": options.bandwidth,
        "return-bandwidth": options.return_bandwidth, "min-retries": options.min_retries,
        "max-retries": options.max_retries, "session-timeout": options.session_timeout,
        "keepalive-interval": options.keepalive_interval,
        "congestion-control": options.congestion_control,
    }
    params.extend((key, str(value)) for key, value in simple.items() if value is not None)
    if options.secret is not None:
        params.append(("secret", MASK if mask else options.secret.get_secret_value()))
        params.append(("aes-type", str(options.aes_type or 128)))
    elif options.aes_type is not None:
        params.append(("aes-type", str(options.aes_type)))
    chosen_cname = options.cname or cname
    if chosen_cname:
        params.append(("cname", quote(chosen_cname, safe="@:._-+~")))
    if weight is not None:
        params.append(("weight", str(weight)))
    return "&".join(f"{key}={value}" for key, value in params)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def sender_url(host: str, port: int, options: LibristLinkOptions, *, latency_ms: int,
               cname: str | None, weight: int, mask: bool = False) -> str:
    """``rist://HOST:PORT?...`` for one sender peer (``mask`` hides the secret)."""
    query = _query(options, latency_ms=latency_ms, cname=cname, weight=weight, mask=mask)
    return f"rist://{_host(host)}:{port}?{query}"


def listener_url(host: str, port: int, options: LibristLinkOptions, *, latency_ms: int,
                 mask: bool = False) -> str:
    """``rist://@HOST:PORT?...`` for one receiver listen address."""
    query = _query(options, latency_ms=latency_ms, cname=None, weight=None, mask=mask)
    return f"rist://@{_host(host)}:{port}?{query}"


def secrets_of(options: LibristLinkOptions) -> tuple[str, ...]:
    """The secret values to scrub from anything librist logs."""
    return (options.secret.get_secret_value(),) if options.secret is not None else ()
