"""``ristbond plugins``: what is installed, by name, kind, distribution and version."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ristbond_core.plugins import PluginHost, plugin_rows

COLUMNS = ("name", "kind", "distribution", "version", "description")


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    parser = sub.add_parser("plugins", help="list installed transports, schedulers, ...")
    parser.add_argument("--json", action="store_true", help="print a JSON list of objects")
    parser.set_defaults(run=run)


def render_table(rows: list[dict[str, str]]) -> str:
    """Plain aligned columns."""
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in COLUMNS}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in COLUMNS).rstrip()]
    lines.extend("  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip() for r in rows)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """List backends; plugins that failed to load are logged on stderr, one line each."""
    host = PluginHost.discover()
    rows = list(plugin_rows(host))
    if args.json:
        print(json.dumps(rows, indent=2))
    elif rows:
        print(render_table(rows))
    else:
        print("no plugins installed")
    return 0
