"""ristbond core: plugin contracts, protocol engines, simulator and CLI.

The core never imports a plugin distribution; transports, schedulers, feedback
sources and telemetry exporters are found through entry points (group
``ristbond.plugins``) and registered through the hooks in
:mod:`ristbond_core.hookspecs`.
"""

__version__ = "0.1.0"

from ristbond_core.hookspecs import hookimpl

__all__ = ["__version__", "hookimpl"]
