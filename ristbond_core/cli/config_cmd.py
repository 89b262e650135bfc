"""``ristbond config check|show|migrate``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ristbond_core.config import load_config, load_raw
from ristbond_core.config.migrate import migrate
from ristbond_core.config.redact import redact
from ristbond_core.config.toml_write import dumps
from ristbond_core.plugins import PluginHost


def add_parser(sub: Any) -> None:
    """Register ``config`` and its three actions."""
    parser = sub.add_parser("config", help="check, show or migrate a config file")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    check = actions.add_parser("check", help="validate FILE; exit 0 if valid, 2 if not")
    check.add_argument("file", type=Path)
    check.set_defaults(run=run_check)

    show = actions.add_parser("show", help="print the effective config, secrets redacted")
    show.add_argument("file", type=Path, nargs="?")
    show.set_defaults(run=run_show)

    mig = actions.add_parser("migrate", help="upgrade FILE to the current config version")
    mig.add_argument("file", type=Path)
    mig.add_argument("--write", action="store_true", help="rewrite FILE (keeps FILE.bak)")
    mig.set_defaults(run=run_migrate)


def run_check(args: argparse.Namespace) -> int:
    """Validate schema, plugin names and every plugin's options."""
    load_config(args.file, host=PluginHost.discover())
    print(f"{args.file}: ok")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print the effective config as TOML with secrets masked."""
    config = load_config(args.file)
    sys.stdout.write(dumps(redact(config.model_dump(mode="json"))))
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    """Print (or write) the file upgraded to the current version, noting each change."""
    raw, notes = migrate(load_raw(args.file))
    text = dumps(raw)
    for note in notes:
        print(f"ristbond: migrated: {note}", file=sys.stderr)
    if not notes:
        print(f"ristbond: {args.file} is already at the current version", file=sys.stderr)
    if args.write:
        if notes:
            backup = args.file.with_name(args.file.name + ".bak")
            backup.write_bytes(args.file.read_bytes())
            args.file.write_text(text, encoding="utf-8")
            print(f"ristbond: wrote {args.file} (previous version in {backup})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
