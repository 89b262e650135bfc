"""Plugin discovery (stevedore entry points) and registration (pluggy).

Every plugin, built-in or third-party, is an object named by an entry point in the
group ``ristbond.plugins``. The host registers it with a pluggy PluginManager and
calls its registration hooks one plugin at a time, so a plugin that fails to import
or registers badly becomes one ``PluginLoadError`` line and the others still load.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
import os
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pluggy
from pydantic import BaseModel, ValidationError

from ristbond_core import hookspecs
from ristbond_core.config.errors import format_validation_error
from ristbond_core.config.load import INSTALL_HINTS
from ristbond_core.contracts import Scheduler, SchedulerSetup
from ristbond_core.errors import BackendNotFoundError, ConfigError, PluginError, PluginLoadError
from ristbond_core.events import LinkStateChanged
from ristbond_core.registry import (
    Backend,
    FeedbackRegistry,
    Origin,
    Registry,
    SchedulerRegistry,
    TelemetryRegistry,
    TransportRegistry,
)

ENTRY_POINT_GROUP = "ristbond.plugins"
ENV_ALLOW = "RISTBOND_PLUGINS"
ENV_BLOCK = "RISTBOND_DISABLE_PLUGINS"

log = logging.getLogger(__name__)


# (kind, registration hook name) in the order plugins are asked to register.
REGISTRATION_HOOKS: tuple[tuple[str, str], ...] = (
    ("transport", "ristbond_register_transports"),
    ("scheduler", "ristbond_register_schedulers"),
    ("feedback", "ristbond_register_feedback_sources"),
    ("telemetry", "ristbond_register_telemetry_exporters"),
)


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A plugin that loaded: its entry-point name, target and distribution."""

    name: str
    entry_point: str
    distribution: str
    version: str


def _split_names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _distribution_of(module_name: str) -> tuple[str, str]:
    """Best-effort (distribution, version) that ships the top-level ``module_name``."""
    top = module_name.split(".", 1)[0]
    dists = importlib.metadata.packages_distributions().get(top, [])
    if not dists:
        return ("(unknown)", "")
    name = dists[0]
    try:
        return (name, importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        return (name, "")


def _validation_cause(exc: Exception) -> str:
    """pluggy's validation message, without the module repr (it holds a file path)."""
    text = str(exc).strip().splitlines()[0]
    text = re.sub(r" in plugin <.*?>$", "", text)
    match = re.match(r"unknown hook '(?P<hook>\w+)'", text)
    if match:
        known = [name for name in dir(hookspecs) if name.startswith("ristbond_")]
        close = difflib.get_close_matches(match.group("hook"), known, n=1)
        if close:
            text += f" — did you mean {close[0]!r}?"
    return text


class PluginHost:
    """Owns the pluggy PluginManager and the four typed backend registries."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.manager.add_hookspecs(hookspecs)
        self.transports: TransportRegistry = Registry("transport")
        self.schedulers: SchedulerRegistry = Registry("scheduler")
        self.feedback: FeedbackRegistry = Registry("feedback")
        self.telemetry: TelemetryRegistry = Registry("telemetry")
        self.plugins: list[PluginInfo] = []
        self.load_errors: list[PluginLoadError] = []
        self.skipped: list[str] = []

    # -- construction -------------------------------------------------------------

    @classmethod
    def discover(cls, environ: Mapping[str, str] | None = None) -> PluginHost:
        """Load every entry-point plugin, honouring the allow/block environment lists.

        ``RISTBOND_PLUGINS=a,b`` loads only plugins ``a`` and ``b``;
        ``RISTBOND_DISABLE_PLUGINS=c`` skips ``c``.
        """
        env = os.environ if environ is None else environ
        allow = _split_names(env.get(ENV_ALLOW))
        block = _split_names(env.get(ENV_BLOCK)) or set()
        host = cls()
        wanted: list[str] = []
        for entry_point in host._entry_points():
            if (allow is not None and entry_point.name not in allow) or entry_point.name in block:
                host.skipped.append(entry_point.name)
            else:
                wanted.append(entry_point.name)
        host._load_named(wanted)
        return host

    @classmethod
    def from_plugins(cls, plugins: Mapping[str, object]) -> PluginHost:
        """A host with exactly ``plugins`` (name → module/object), for tests and embedding."""
        host = cls()
        for name, plugin in plugins.items():
            module = getattr(plugin, "__name__", type(plugin).__module__)
            dist, version = _distribution_of(str(module))
            host.add_plugin(name, plugin, PluginInfo(name, str(module), dist, version))
        return host

    @staticmethod
    def _entry_points() -> list[importlib.metadata.EntryPoint]:
        """Installed entry points of the group, without importing any of them."""
        # A test instance lists (stevedore caches the scan between runs) but loads nothing,
        # so a blocked plugin is never imported.
        from stevedore import ExtensionManager

        lister: ExtensionManager[Any] = ExtensionManager.make_test_instance(
            [], namespace=ENTRY_POINT_GROUP
        )
        found: list[importlib.metadata.EntryPoint] = lister.list_entry_points()
        return sorted(found, key=lambda ep: ep.name)

    def _load_named(self, names: list[str]) -> None:
        """Import exactly ``names`` through stevedore and register each; failures are kept."""
        if not names:
            return
        from stevedore import NamedExtensionManager

        def on_failure(_manager: object, entry_point: Any, exc: BaseException) -> None:
            self._fail(entry_point.name, entry_point.value, f"{type(exc).__name__}: {exc}")

        manager: NamedExtensionManager[Any] = NamedExtensionManager(
            ENTRY_POINT_GROUP,
            names=names,
            name_order=True,
            on_load_failure_callback=on_failure,
            # A failed import was already reported by on_failure; say it once only.
            on_missing_entrypoints_callback=lambda _missing: None,
        )
        for extension in manager.extensions:
            entry_point = extension.entry_point
            dist, version = _distribution_of(entry_point.module)
            info = PluginInfo(entry_point.name, entry_point.value, dist, version)
            self.add_plugin(entry_point.name, extension.plugin, info)

    def add_plugin(self, name: str, plugin: object, info: PluginInfo) -> None:
        """Register ``plugin`` and run its registration hooks, isolating its failures."""
        try:
            self.manager.register(plugin, name=name)
            self.manager.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:
            if self.manager.is_registered(plugin):
                self.manager.unregister(plugin)
            self._fail(name, info.entry_point, _validation_cause(exc))
            return
        origin = Origin(plugin=name, distribution=info.distribution, version=info.version)
        try:
            for kind, hook_name in REGISTRATION_HOOKS:
                registry = self.registry(kind)
                registry.set_origin(origin)
                caller = getattr(self.manager.hook, hook_name)
                for impl in caller.get_hookimpls():
                    if impl.plugin_name == name:
                        impl.function(**dict.fromkeys(impl.argnames, registry))
        except Exception as exc:
            for kind, _ in REGISTRATION_HOOKS:
                self.registry(kind).remove_origin(name)
            self.manager.unregister(plugin)
            cause = str(exc) if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
            self._fail(name, info.entry_point, f"registration failed: {cause}")
            return
        self.plugins.append(info)

    def _fail(self, name: str, target: str, cause: str) -> None:
        error = PluginLoadError(name, f"{ENTRY_POINT_GROUP}:{target}", cause)
        self.load_errors.append(error)
        log.error("%s", error)

    # -- lookup ---------------------------------------------------------------------

    def registry(self, kind: str) -> Registry[Any]:
        """The registry of one plugin kind."""
        registries: dict[str, Registry[Any]] = {
            "transport": self.transports,
            "scheduler": self.schedulers,
            "feedback": self.feedback,
            "telemetry": self.telemetry,
        }
        try:
            return registries[kind]
        except KeyError:
            raise PluginError(f"unknown plugin kind {kind!r}") from None

    def backends(self) -> list[Backend[Any]]:
        """Every registered backend of every kind."""
        return [b for kind, _ in REGISTRATION_HOOKS for b in self.registry(kind)]

    def require(self, kind: str, name: str, key_path: str) -> Backend[Any]:
        """The backend ``name`` of ``kind``, or a ``BackendNotFoundError`` saying how to fix it."""
        registry = self.registry(kind)
        backend = registry.get(name)
        if backend is not None:
            return backend
        available = registry.names()
        parts = [f"{key_path}: no {kind} named {name!r} is installed"]
        parts.append(f"(installed: {', '.join(available)})" if available else "(none installed)")
        close = difflib.get_close_matches(name, available, n=1)
        if close:
            parts.append(f"- did you mean {close[0]!r}?")
        if name in INSTALL_HINTS:
            parts.append(f"- install it with: pip install {INSTALL_HINTS[name]}")
        failed = [str(e) for e in self.load_errors]
        if failed:
            parts.append(f"- note: {len(failed)} plugin(s) failed to load: {'; '.join(failed)}")
        raise BackendNotFoundError(kind, name, available, " ".join(parts))

    def validate_options(
        self,
        kind: str,
        name: str,
        options: Mapping[str, Any] | None,
        name_key: str,
        options_key: str,
    ) -> BaseModel:
        """Validate a backend's options table with that plugin's own model.

        ``name_key``/``options_key`` are the config paths named in error messages.
        """
        backend = self.require(kind, name, name_key)
        try:
            return backend.options_model.model_validate(dict(options or {}))
        except ValidationError as exc:
            lines = format_validation_error(exc, options_key, backend.options_model)
            raise ConfigError(lines) from None

    def create_scheduler(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        rng: random.Random | None = None,
    ) -> Scheduler:
        """Build the scheduler ``name`` with validated ``options`` and a seeded RNG."""
        validated = self.validate_options(
            "scheduler", name, options, "scheduler.name", "scheduler.options"
        )
        backend = self.schedulers.get(name)
        assert backend is not None  # validate_options already required it
        factory: Callable[[SchedulerSetup], Scheduler] = backend.factory
        return factory(SchedulerSetup(options=validated, rng=rng or random.Random(0)))

    # -- fan-out events -------------------------------------------------------------

    def _fan_out(self, hook_name: str, **kwargs: Any) -> None:
        """Call every implementation, so one failing observer cannot silence the rest."""
        caller = getattr(self.manager.hook, hook_name)
        for impl in caller.get_hookimpls():
            try:
                impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception:
                log.exception("plugin %r failed in %s", impl.plugin_name, hook_name)

    def notify_link_state_changed(self, event: LinkStateChanged) -> None:
        """Fan a lifecycle transition out to every observing plugin."""
        self._fan_out("ristbond_link_state_changed", event=event)

    def notify_stats_snapshot(self, snapshot: Mapping[str, Any]) -> None:
        """Fan a stats snapshot out to every observing plugin."""
        self._fan_out("ristbond_stats_snapshot", snapshot=snapshot)


def plugin_rows(host: PluginHost) -> Iterable[dict[str, str]]:
    """One row per backend: name, kind, plugin, distribution, version, description."""
    for backend in host.backends():
        yield {
            "name": backend.name,
            "kind": backend.kind,
            "plugin": backend.origin.plugin,
            "distribution": backend.origin.distribution,
            "version": backend.origin.version,
            "description": backend.description,
        }
