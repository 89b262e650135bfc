"""Options of the ``librist`` transport and the librist peer URLs built from them.

``[transport.options]`` is ``LibristOptions``. Each link (``[[links]] options`` or the
query of a link/listen URL) is validated by ``LibristLinkOptions``; its keys are
librist's own URL keys, spelt with ``_`` or librist's ``-`` (``aes-type``). Secrets are
``SecretStr``: they appear only in the URL handed to librist, never in ``repr``, logs
or exceptions (``masked_url`` is what error messages show).

SRP (EAP-SRP, main profile): a sender link logs in with ``username`` + ``password``; a
listen address accepts the users of an ``srpfile`` (ristsrppasswd's format, read here by
``read_srpfile``) or the single ``username`` + ``password`` it is given.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from ristbond_core.errors import RistbondError

LogLevel = Literal["disable", "error", "warn", "notice", "info", "debug"]

#: Characters that would end a value inside librist's URL query parser.
_SECRET_FORBIDDEN = set("&=,?#/% \t\r\n")
MASK = "***"
#: librist's limit for SRP user names and passwords (it refuses longer ones).
SRP_MAX_LENGTH = 255
#: Link keys that turn on SRP (main profile only).
SRP_KEYS = ("username", "password", "srpfile")


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
    username: str | None = Field(None, description="SRP user name (main profile; with "
                                 "password)")
    password: SecretStr | None = Field(None, description="SRP password (main profile; "
                                       "with username)")
    srpfile: str | None = Field(None, min_length=1, description="listen address: SRP "
                                "users file written by ristsrppasswd")

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

    @field_validator("username")
    @classmethod
    def _srp_username(cls, value: str | None) -> str | None:
        # ':' separates the fields of an srpfile, so such a user could never be listed.
        if value is None:
            return None
        if not 1 <= len(value.encode()) <= SRP_MAX_LENGTH:
            raise ValueError(f"must be 1 to {SRP_MAX_LENGTH} bytes")
        if any(ch in _SECRET_FORBIDDEN or ch == ":" for ch in value):
            raise ValueError("must not contain spaces or any of & = , ? # / % :")
        return value

    @field_validator("password")
    @classmethod
    def _srp_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        text = value.get_secret_value()
        if not 1 <= len(text.encode()) <= SRP_MAX_LENGTH:
            raise ValueError(f"must be 1 to {SRP_MAX_LENGTH} bytes")
        if any(ch in _SECRET_FORBIDDEN for ch in text):
            raise ValueError("must not contain spaces or any of & = , ? # / %")
        return value

    @model_validator(mode="after")
    def _srp_keys_together(self) -> LibristLinkOptions:
        """SRP needs a user name and a password together, and one way of checking users
        on a listen address (its own pair or an srpfile, not both)."""
        if self.username is not None and self.password is None:
            raise ValueError("option 'username' needs 'password' too (SRP logs in with both)")
        if self.password is not None and self.username is None:
            raise ValueError("option 'password' needs 'username' too (SRP logs in with both)")
        if self.srpfile is not None and self.username is not None:
            raise ValueError("options 'srpfile' and 'username'/'password' exclude each "
                             "other: a listen address checks users against one of them")
        return self

    def srp_keys(self) -> list[str]:
        """The SRP keys that are set (empty: no SRP on this link)."""
        return [key for key in SRP_KEYS if getattr(self, key) is not None]


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
            key = ".".join(str(part) for part in error["loc"])
            if not key:  # a check across keys: its message names them
                problems.append(f"{what}: {error['msg'].removeprefix('Value error, ')}")
            elif error["type"] == "extra_forbidden":
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
    if options.username is not None and options.password is not None:
        # librist 0.2.7 only stores these two; the transport enables SRP with them.
        params.append(("username", options.username))
        params.append(("password", MASK if mask else options.password.get_secret_value()))
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
    """The secret values (PSK, SRP password) to scrub from anything librist logs."""
    return tuple(value.get_secret_value() for value in (options.secret, options.password)
                 if value is not None)


def check_srp(options: LibristLinkOptions, *, profile: str, listening: bool,
              what: str) -> None:
    """Refuse SRP keys where they cannot work, naming the key and the fix.

    SRP (EAP) exists only in librist's main profile. A sender link logs in, so it takes
    ``username``/``password``; ``srpfile`` is the user list of a listen address.
    """
    keys = options.srp_keys()
    if not keys:
        return
    if profile != "main":
        raise RistbondError(
            f"{what}: option {keys[0]!r}: SRP authentication exists only in the main "
            f"profile; set [transport.options] profile = \"main\" (the default) or drop "
            f"{', '.join(keys)}")
    if options.srpfile is not None and not listening:
        raise RistbondError(
            f"{what}: option 'srpfile' is for listen addresses (the receiver's user "
            "list); a sender link logs in with 'username' and 'password'")


# -- SRP users files ----------------------------------------------------------------------

#: Largest verifier or salt accepted from an srpfile, in bytes. librist puts the salt
#: into one 1500-byte EAP packet; a verifier for its 2048-bit group is 256 bytes.
SRP_FIELD_MAX_BYTES = 1024
#: The last field ristsrppasswd 0.2.7 writes (its hash version; librist 0.2.7 has one).
SRP_HASH_VERSION = "3"


@dataclass(frozen=True)
class SrpVerifier:
    """One srpfile user's SRP verifier and salt (raw bytes, as librist wants them)."""

    verifier: bytes
    salt: bytes


def _srp_base64(text: str) -> bytes:
    """ristsrppasswd writes standard base64 without the ``=`` padding."""
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded, validate=True)


def _parse_srp_line(line: str) -> tuple[str, SrpVerifier]:
    """``USER:VERIFIER:SALT:3``; a ``ValueError`` says what is wrong (never the values,
    which an attacker could use for an offline guess)."""
    fields = line.split(":")
    if len(fields) != 4:
        raise ValueError(f"{len(fields)} ':'-separated fields instead of 4 "
                         "(USER:VERIFIER:SALT:3)")
    user, verifier_text, salt_text, version = fields
    if not 1 <= len(user.encode()) <= SRP_MAX_LENGTH:
        raise ValueError(f"the user name must be 1 to {SRP_MAX_LENGTH} bytes")
    if version != SRP_HASH_VERSION:
        raise ValueError(f"the last field must be {SRP_HASH_VERSION} (the hash version "
                         "ristsrppasswd writes for librist 0.2.7)")
    decoded = []
    for name, text in (("verifier", verifier_text), ("salt", salt_text)):
        try:
            value = _srp_base64(text)
        except (binascii.Error, ValueError):
            raise ValueError(f"the {name} is not base64") from None
        if not 1 <= len(value) <= SRP_FIELD_MAX_BYTES:
            raise ValueError(f"the {name} must be 1 to {SRP_FIELD_MAX_BYTES} bytes")
        decoded.append(value)
    return user, SrpVerifier(decoded[0], decoded[1])


def read_srpfile(path: str) -> dict[str, SrpVerifier]:
    """The users of an SRP password file as written by ``ristsrppasswd USER PASSWORD``.

    One ``USER:VERIFIER:SALT:3`` line per user; blank lines are skipped. The file is
    read once, before librist starts, so that a missing, unreadable or malformed file
    is a ``RistbondError`` naming the path and the line instead of every log-in failing
    later on librist's thread.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise RistbondError(f"srpfile {path}: cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise RistbondError(f"srpfile {path}: not a text file (expected lines written by "
                            "ristsrppasswd)") from None
    users: dict[str, SrpVerifier] = {}
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            user, entry = _parse_srp_line(line)
        except ValueError as exc:
            raise RistbondError(f"srpfile {path}: line {number}: {exc}") from None
        if user in users:
            raise RistbondError(f"srpfile {path}: line {number}: user {user!r} is "
                                f"already on line {first_line[user]}")
        users[user] = entry
        first_line[user] = number
    if not users:
        raise RistbondError(f"srpfile {path}: no users (add lines with ristsrppasswd "
                            "USER PASSWORD >> FILE)")
    return users
