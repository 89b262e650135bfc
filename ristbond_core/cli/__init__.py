"""The ``ristbond`` command: one module per subcommand, each with ``add_parser`` and ``run``.

Every module named ``*_cmd`` in this package is a subcommand: it defines
``add_parser(subparsers)`` (which sets ``run`` as the parser default). Adding a command
is adding a module; nothing else needs editing.

User mistakes (bad config, unknown plugin, missing file) are ``RistbondError``s:
printed as one clear message on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from ristbond_core import __version__
from ristbond_core.config.redact import redact_text
from ristbond_core.errors import ConfigError, RistbondError
from ristbond_core.telemetry.logs import configure_logging

EXIT_USAGE = 2


def command_modules() -> list[ModuleType]:
    """The subcommand modules of this package, in name order."""
    names = sorted(
        info.name for info in pkgutil.iter_modules(__path__) if info.name.endswith("_cmd")
    )
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used by the docs test)."""
    parser = argparse.ArgumentParser(
        prog="ristbond",
        description="Bond one live stream over several unreliable links (RIST on the wire).",
    )
    parser.add_argument("--version", action="version", version=f"ristbond {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--log-json", action="store_true", help="log as JSON lines")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in command_modules():
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # One redacting handler: secrets never reach the log, text or JSON lines.
    configure_logging(logging.DEBUG if args.verbose else logging.WARNING, json_lines=args.log_json)
    try:
        code: int = args.run(args)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"ristbond: config error: {redact_text(line)}", file=sys.stderr)
        return EXIT_USAGE
    except RistbondError as exc:
        print(f"ristbond: error: {redact_text(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
