"""``ristbond send``: read a live stream and bond it over RIST links in real time."""

from __future__ import annotations

import argparse
import random
import secrets
from typing import Any

from ristbond_core.config.load import load_config
from ristbond_core.contracts import SessionTransport
from ristbond_core.engine.sender import SenderSettings
from ristbond_core.errors import RistbondError
from ristbond_core.plugins import PluginHost
from ristbond_core.runtime.backends import create_transport, merge_links
from ristbond_core.runtime.clock import wake_interval_ms
from ristbond_core.runtime.options import (
    add_node_arguments,
    override,
    start_telemetry,
    stats_interval_ms,
    transport_choice,
)
from ristbond_core.runtime.sender import SenderPlan, SenderRuntime
from ristbond_core.runtime.session import SessionSenderRuntime
from ristbond_core.runtime.urls import parse_link_url, parse_stream_url


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        "send", help="send a live stream bonded over one or more RIST links",
        description="Read a stream and send it over every link (RIST simple profile with "
        "the udp transport; librist's profiles with --transport librist). "
        "Flags override the config file.",
    )
    parser.add_argument("--input", metavar="URL",
                        help="udp://@[GROUP]:PORT, file://PATH, - (stdin) or "
                        "testsrc://[?bitrate=KBPS] (default: [sender] input)")
    parser.add_argument("--link", action="append", default=[], metavar="URL",
                        help="rist://HOST:PORT[?iface=NAME&source=ADDR&weight=W&id=NAME] "
                        "(repeat for each link; added to the config's [[links]])")
    parser.add_argument("--scheduler", metavar="NAME", help="scheduler plugin (default: dwrr)")
    parser.add_argument("--latency-ms", type=int, metavar="N", help="latency budget")
    parser.add_argument("--bitrate", type=int, metavar="KBPS",
                        help="pacing bitrate of file inputs and testsrc (default: "
                        "[sender] bitrate_kbps)")
    parser.add_argument("--pacing", choices=["input", "bitrate", "pcr"],
                        help="file inputs: at --bitrate (input, bitrate) or by the file's "
                        "PCRs (pcr); live inputs are sent as they arrive")
    add_node_arguments(parser, duration_help="stop reading input after S seconds")
    parser.set_defaults(run=run)


def build(args: argparse.Namespace, host: PluginHost) -> SenderRuntime | SessionSenderRuntime:
    """Resolve flags and config into a ready runtime (nothing opened yet but the transport)."""
    config = load_config(args.config, host=host)
    sender = override(config.sender, {
        "input": ("--input", args.input),
        "latency_ms": ("--latency-ms", args.latency_ms),
        "bitrate_kbps": ("--bitrate", args.bitrate),
        "pacing": ("--pacing", args.pacing),
    })
    interval = stats_interval_ms(args, config)
    input_url = parse_stream_url(sender.input, "input")
    cli_links = [parse_link_url(url, f"link{i}") for i, url in enumerate(args.link, 1)]
    links = merge_links(config.links, cli_links)
    if not links:
        raise RistbondError("no links: give --link rist://HOST:PORT (or [[links]] in --config)")
    name = args.scheduler or config.scheduler.name
    if args.scheduler is not None:
        host.require("scheduler", args.scheduler, "--scheduler")
    options = config.scheduler.options if name == config.scheduler.name else {}
    scheduler = host.create_scheduler(name, options, random.Random(secrets.randbits(64)))
    settings = SenderSettings(
        latency_ms=sender.latency_ms, flow_id=sender.flow_id,
        payload_bytes=sender.payload_bytes, max_retries=sender.max_retries,
        capacity_probe_interval_ms=sender.capacity_probe_interval_ms,
        capacity_probe_budget=sender.capacity_probe_budget,
        lifecycle=config.lifecycle,
    )
    plan = SenderPlan(
        settings=settings, input_url=input_url, bitrate_kbps=sender.bitrate_kbps,
        links=links, pacing=sender.pacing, cli_links=cli_links, config_path=args.config,
        stats_json=args.stats_json, stats_interval_ms=interval, duration_s=args.duration,
        wake_interval_ms=wake_interval_ms(sender.wake_interval_ms, sender.latency_ms),
    )
    transport_name, transport_options = transport_choice(args, config, host)
    transport = create_transport(host, transport_name, transport_options)
    telemetry, health = start_telemetry(host, config, transport)
    if isinstance(transport, SessionTransport):
        return SessionSenderRuntime(plan, host, scheduler, transport, transport_name,
                                    telemetry=telemetry, health=health)
    return SenderRuntime(plan, host, scheduler, transport,
                          telemetry=telemetry, health=health)


def run(args: argparse.Namespace) -> int:
    """Send until SIGINT/SIGTERM, ``--duration`` or the end of a file input."""
    host = PluginHost.discover()
    return build(args, host).run()
