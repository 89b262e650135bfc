"""Read a config: TOML → migration → environment overrides → validation → backends."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ristbond_core.config.errors import format_validation_error
from ristbond_core.config.migrate import migrate
from ristbond_core.config.models import RistbondConfig
from ristbond_core.errors import ConfigError, PluginError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

if TYPE_CHECKING:
    from ristbond_core.plugins import PluginHost

# Which distribution to install for a backend name a user may expect to exist.
INSTALL_HINTS: dict[str, str] = {
    "udp": "ristbond-transport-udp",
    "librist": "ristbond-transport-librist",
    "dwrr": "ristbond-sched-dwrr",
    "weighted": "ristbond-sched-weighted",
    "broadcast": "ristbond-sched-weighted",
    "otel": "ristbond-telemetry-otel",
}

ENV_PREFIX = "RISTBOND__"

log = logging.getLogger(__name__)


def load_raw(path: Path | str | None) -> dict[str, Any]:
    """The TOML document at ``path`` as a dict (empty for None)."""
    if path is None:
        return {}
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{file}: no such config file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{file}: cannot read: {exc}"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{file}: not valid TOML: {exc}"]) from None


def _parse_env_value(text: str) -> Any:
    """Interpret an override as a TOML value (number, bool, list) or else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_env_overrides(
    raw: dict[str, Any], environ: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Apply ``RISTBOND__SECTION__KEY=value`` overrides; return the dict and key → variable."""
    sources: dict[str, str] = {}
    for variable in sorted(environ):
        if not variable.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in variable[len(ENV_PREFIX):].split("__") if p]
        if not parts:
            continue
        node: Any = raw
        for depth, part in enumerate(parts[:-1]):
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError([f"{variable}: {'.'.join(parts[:depth + 1])} "
                                       "is not an existing list item"])
                node = node[int(part)]
                continue
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict | list):
                raise ConfigError([f"{variable}: {'.'.join(parts[:depth + 1])} is not a table"])
            node = nxt
        if not isinstance(node, dict):
            raise ConfigError([f"{variable}: cannot set a list item by name"])
        node[parts[-1]] = _parse_env_value(environ[variable])
        sources[".".join(parts)] = variable
    return raw, sources


def load_config(
    path: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    host: PluginHost | None = None,
) -> RistbondConfig:
    """Load, migrate, override and validate a config; with ``host``, check its backends."""
    raw, _notes = migrate(load_raw(path))
    raw, sources = apply_env_overrides(raw, os.environ if environ is None else environ)
    try:
        config = RistbondConfig.model_validate(raw)
    except ValidationError as exc:
        lines = format_validation_error(exc, "", RistbondConfig)
        raise ConfigError([_with_source(line, sources) for line in lines]) from None
    if host is not None:
        for warning in resolve_backends(config, host):
            log.warning("%s", warning)
    return config


def _with_source(line: str, sources: Mapping[str, str]) -> str:
    key = line.split(":", 1)[0]
    for path, variable in sources.items():
        if key == path or key.startswith((path + ".", path + "[")):
            return f"{line} (set by environment variable {variable})"
    return line


def resolve_backends(config: RistbondConfig, host: PluginHost) -> list[str]:
    """Check that every backend the config names is installed and its options validate.

    A backend the file names explicitly must exist (else ``ConfigError``); a default
    the file never mentions that is not installed only yields a warning line, so a
    file can be checked on a machine that has not installed every plugin.
    """
    checks: list[tuple[str, str, str, dict[str, Any], str]] = []
    warnings: list[str] = []
    for kind, section in (("transport", config.transport), ("scheduler", config.scheduler)):
        if "name" not in section.model_fields_set and host.registry(kind).get(section.name) is None:
            hint = INSTALL_HINTS.get(section.name)
            warnings.append(
                f"{kind}.name: the default {kind} {section.name!r} is not installed"
                + (f" — pip install {hint}" if hint else "")
            )
            continue
        checks.append((kind, section.name, f"{kind}.name", section.options, f"{kind}.options"))
    checks.extend(
        ("telemetry", name, f"telemetry.exporters[{index}]",
         config.telemetry.options.get(name, {}), f"telemetry.options.{name}")
        for index, name in enumerate(config.telemetry.exporters)
    )
    problems = [
        f"telemetry.options.{name}: options for an exporter that is not in "
        f"telemetry.exporters — add {name!r} to exporters or remove this table"
        for name in sorted(set(config.telemetry.options) - set(config.telemetry.exporters))
    ]
    for kind, name, name_key, options, options_key in checks:
        try:
            host.validate_options(kind, name, options, name_key, options_key)
        except ConfigError as exc:
            problems.extend(exc.problems)
        except PluginError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError(problems)
    return warnings
