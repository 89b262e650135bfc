"""The exception root of the core and its narrow, data-carrying subclasses.

Errors caused by a user (bad config, unknown plugin name, missing system library)
are ``RistbondError`` subclasses whose ``str()`` is a complete, actionable message;
the CLI prints that message and exits non-zero instead of showing a traceback.
"""

from __future__ import annotations


class RistbondError(Exception):
    """Root of every error the core raises on purpose."""


class ConfigError(RistbondError):
    """A configuration problem; ``problems`` holds one line per bad key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class PluginError(RistbondError):
    """A plugin could not be loaded, registered or selected."""


class PluginLoadError(PluginError):
    """One plugin failed to import or to register; the others still load."""

    def __init__(self, plugin: str, entry_point: str, cause: str) -> None:
        self.plugin = plugin
        self.entry_point = entry_point
        self.cause = cause
        super().__init__(
            f"plugin {plugin!r} (entry point {entry_point}) failed to load: {cause}"
        )


class BackendNotFoundError(PluginError):
    """Config named a transport/scheduler/... that no installed plugin provides."""

    def __init__(self, kind: str, name: str, available: list[str], hint: str) -> None:
        self.kind = kind
        self.name = name
        self.available = list(available)
        super().__init__(hint)
