"""Typed registries of named backend factories, filled by plugin hooks.

A plugin's registration hook receives one of these (``registry.add(...)``) instead
of returning a list, so mypy checks the factory type. Names are the short,
user-visible values a config file selects (``scheduler = "dwrr"``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from ristbond_core.contracts import (
    DatagramTransport,
    FeedbackSource,
    Scheduler,
    SchedulerSetup,
    SessionTransport,
    TelemetryExporter,
)
from ristbond_core.errors import PluginError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")

F = TypeVar("F", bound=Callable[..., Any])


class NoOptions(BaseModel):
    """Options model for backends that take no options (any key is an error)."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class Origin:
    """Which plugin (entry point) and distribution registered a backend."""

    plugin: str
    distribution: str
    version: str


UNKNOWN_ORIGIN = Origin(plugin="(direct)", distribution="(unknown)", version="")


@dataclass(frozen=True, slots=True)
class Backend(Generic[F]):
    """One registered backend: its factory, its options model and where it came from."""

    kind: str
    name: str
    factory: F
    options_model: type[BaseModel]
    description: str
    origin: Origin


class Registry(Generic[F]):
    """Named factories of one plugin kind (transport, scheduler, feedback, telemetry)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._backends: dict[str, Backend[F]] = {}
        self._origin = UNKNOWN_ORIGIN

    def set_origin(self, origin: Origin) -> None:
        """Attribute the following ``add`` calls to ``origin`` (done by the plugin host)."""
        self._origin = origin

    def add(
        self,
        name: str,
        factory: F,
        *,
        options: type[BaseModel] = NoOptions,
        description: str = "",
    ) -> None:
        """Register ``factory`` under ``name``; its options table is validated by ``options``.

        Raises ``PluginError`` for a malformed name, a duplicate name, a non-callable
        factory or an options model that would silently accept unknown keys.
        """
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise PluginError(
                f"{self.kind} name {name!r} is invalid: use lowercase letters, digits, "
                "'-' or '_' (e.g. 'dwrr', 'json-udp')"
            )
        if not callable(factory):
            raise PluginError(f"{self.kind} {name!r}: factory {factory!r} is not callable")
        if not (isinstance(options, type) and issubclass(options, BaseModel)):
            raise PluginError(f"{self.kind} {name!r}: options must be a pydantic model class")
        if options.model_config.get("extra") != "forbid":
            raise PluginError(
                f"{self.kind} {name!r}: options model {options.__name__} must set "
                "model_config = ConfigDict(extra='forbid') so misspelt keys are reported"
            )
        existing = self._backends.get(name)
        if existing is not None:
            raise PluginError(
                f"{self.kind} {name!r} is already registered by plugin "
                f"{existing.origin.plugin!r} ({existing.origin.distribution})"
            )
        self._backends[name] = Backend(
            kind=self.kind,
            name=name,
            factory=factory,
            options_model=options,
            description=description,
            origin=self._origin,
        )

    def remove_origin(self, plugin: str) -> None:
        """Forget everything ``plugin`` registered (used when its registration failed)."""
        for name in [n for n, b in self._backends.items() if b.origin.plugin == plugin]:
            del self._backends[name]

    def get(self, name: str) -> Backend[F] | None:
        """The backend called ``name``, or None."""
        return self._backends.get(name)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._backends)

    def __iter__(self) -> Iterator[Backend[F]]:
        return iter(sorted(self._backends.values(), key=lambda b: b.name))

    def __len__(self) -> int:
        return len(self._backends)


SchedulerFactory = Callable[[SchedulerSetup], Scheduler]
TransportFactory = Callable[..., DatagramTransport | SessionTransport]
FeedbackFactory = Callable[..., FeedbackSource]
TelemetryFactory = Callable[..., TelemetryExporter]

SchedulerRegistry = Registry[SchedulerFactory]
TransportRegistry = Registry[TransportFactory]
FeedbackRegistry = Registry[FeedbackFactory]
TelemetryRegistry = Registry[TelemetryFactory]

KINDS: tuple[str, ...] = ("transport", "scheduler", "feedback", "telemetry")
