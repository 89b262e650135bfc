"""``ristbond netem``: relay RIST links through user-space impairments in real time.

Kernel netem is not available on every machine ristbond runs on, so this command
applies the simulator's link models (delay, jitter, loss, rate with a queue, outages)
to real datagrams: RTP and RTCP forward, the receiver's RTCP back. See docs/netem.md.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import sys
from pathlib import Path
from typing import Any

from ristbond_core.errors import RistbondError
from ristbond_core.relay.control import ControlPort, install_signal_handlers
from ristbond_core.relay.relay import Relay
from ristbond_core.relay.spec import LinkSpec, apply_impairment, load_links_file
from ristbond_core.relay.units import parse_endpoint
from ristbond_core.sim.link_model import LinkModel

_IMPAIRMENT_OPTIONS = (
    ("rate", "rate limit, e.g. 5mbit or 800kbit (default: none)"),
    ("delay", "one-way delay, e.g. 30ms (default 0)"),
    ("jitter", "extra random delay up to this, e.g. 10ms (default 0)"),
    ("loss", "random loss, e.g. 2%% or 0.02 (default 0)"),
    ("queue", "queue length in packets behind the rate limit (default 1000)"),
    ("duplicate", "chance a datagram arrives twice, e.g. 1%% (default 0)"),
    ("reorder", "chance a datagram is held back --reorder-delay, e.g. 1%% (default 0)"),
    ("reorder-delay", "how long a reordered datagram is held back (default 10ms)"),
)


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        "netem",
        help="relay RIST links through user-space impairments (delay, loss, rate, outages)",
        description="Relay RIST links (RTP on PORT, RTCP on PORT+1) in both directions, "
        "applying delay, jitter, loss, a rate limit and outages in real time. "
        "SIGUSR1 takes every link down, SIGUSR2 brings them back.",
    )
    parser.add_argument("--listen", action="append", default=[], metavar="HOST:PORT",
                        help="where the sender sends (RTP; RTCP on PORT+1); repeatable")
    parser.add_argument("--forward", action="append", default=[], metavar="HOST:PORT",
                        help="the receiver (RTP; RTCP on PORT+1); one per --listen")
    parser.add_argument("--links", metavar="FILE", type=Path,
                        help="TOML file of [[links]] with their own impairments")
    for key, text in _IMPAIRMENT_OPTIONS:
        parser.add_argument(f"--{key}", help=text)
    parser.add_argument("--jitter-reorders", action="store_true",
                        help="let jitter reorder datagrams (default: jitter keeps the order)")
    for key, _ in _IMPAIRMENT_OPTIONS:
        parser.add_argument(f"--reverse-{key}", metavar=key.upper().replace("-", "_"),
                            help=f"{key} of the reverse direction (default: as forward)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="stop after S seconds (default: until SIGINT/SIGTERM)")
    parser.add_argument("--control", metavar="HOST:PORT",
                        help="UDP control port: 'down LINK', 'up LINK', 'set LINK k=v', 'stats'")
    parser.add_argument("--json", action="store_true",
                        help="print the exit counters as one JSON line instead of a table")
    parser.add_argument("--stats-json", metavar="FILE", type=Path,
                        help="also write the exit counters as one JSON line to FILE")
    parser.set_defaults(run=run)


def _option(args: argparse.Namespace, name: str) -> Any:
    return getattr(args, name.replace("-", "_"))


def link_specs(args: argparse.Namespace) -> list[LinkSpec]:
    """The links to relay, from --links or from paired --listen/--forward options."""
    if args.links is not None:
        if args.listen or args.forward:
            raise RistbondError("netem: give either --links or --listen/--forward, not both")
        names = [key for key, _ in _IMPAIRMENT_OPTIONS]
        given = [f"--{name}" for name in [*names, *(f"reverse-{n}" for n in names)]
                 if _option(args, name) is not None]
        if args.jitter_reorders:
            given.append("--jitter-reorders")
        if given:
            raise RistbondError(f"netem: {given[0]} does not combine with --links "
                                "(set impairments per link in the file)")
        return load_links_file(args.links)
    if not args.listen:
        raise RistbondError("netem: --listen HOST:PORT and --forward HOST:PORT are required "
                            "(or --links FILE)")
    if len(args.listen) != len(args.forward):
        raise RistbondError(f"netem: {len(args.listen)} --listen but {len(args.forward)} "
                            "--forward; give one --forward per --listen")
    forward_model = LinkModel(delay_ms=0.0)
    for key, _ in _IMPAIRMENT_OPTIONS:
        value = _option(args, key)
        if value is not None:
            apply_impairment(forward_model, key.replace("-", "_"), value, f"--{key}")
    if args.jitter_reorders:
        apply_impairment(forward_model, "jitter_reorders", True, "--jitter-reorders")
    reverse_model = copy.copy(forward_model)
    for key, _ in _IMPAIRMENT_OPTIONS:
        value = _option(args, f"reverse-{key}")
        if value is not None:
            apply_impairment(reverse_model, key.replace("-", "_"), value, f"--reverse-{key}")
    specs = []
    for index, (listen, forward) in enumerate(zip(args.listen, args.forward, strict=True)):
        specs.append(LinkSpec(
            name=f"link{index}",
            listen=parse_endpoint("--listen", listen),
            forward=parse_endpoint("--forward", forward),
            forward_model=copy.copy(forward_model),
            reverse_model=copy.copy(reverse_model),
        ))
    return specs


def run(args: argparse.Namespace) -> int:
    """Relay until --duration ends or a signal stops it; print the counters."""
    if args.duration is not None and args.duration <= 0:
        raise RistbondError("--duration: must be greater than 0 seconds")
    specs = link_specs(args)
    relay = Relay(specs, seed=args.seed)
    control: ControlPort | None = None
    try:
        if args.control is not None:
            control = ControlPort(relay, *parse_endpoint("--control", args.control))
        install_signal_handlers(relay)
        for spec in specs:
            model = spec.forward_model
            rate = f"{model.rate_bps / 1e6:g} Mbit/s" if model.rate_bps else "unlimited"
            print(f"ristbond netem: {spec.name} {spec.listen[0]}:{spec.listen[1]} -> "
                  f"{spec.forward[0]}:{spec.forward[1]} delay {model.delay_ms:g} ms "
                  f"jitter {model.jitter_ms:g} ms loss {model.loss:.2%} rate {rate}",
                  file=sys.stderr, flush=True)
        relay.run(args.duration)
    finally:
        if control is not None:
            control.close()
        relay.close()
    line = relay.stats_json()
    if args.stats_json is not None:
        try:
            args.stats_json.write_text(line + "\n", encoding="utf-8")
        except OSError as exc:
            raise RistbondError(f"--stats-json: cannot write {args.stats_json}: {exc}") from None
    with contextlib.suppress(BrokenPipeError):
        print(line if args.json else relay.summary(), flush=True)
    return 0
