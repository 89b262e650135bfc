"""``ristbond receive``: merge a bonded RIST stream from every link and deliver it."""

from __future__ import annotations

import argparse
from typing import Any

from ristbond_core.config.load import load_config
from ristbond_core.contracts import SessionTransport
from ristbond_core.engine.receiver import ReceiverSettings
from ristbond_core.errors import RistbondError
from ristbond_core.plugins import PluginHost
from ristbond_core.runtime.backends import create_transport
from ristbond_core.runtime.clock import wake_interval_ms
from ristbond_core.runtime.options import (
    add_node_arguments,
    override,
    start_telemetry,
    stats_interval_ms,
    transport_choice,
)
from ristbond_core.runtime.receiver import ReceiverPlan, ReceiverRuntime
from ristbond_core.runtime.session import SessionReceiverRuntime
from ristbond_core.runtime.urls import parse_listen_url, parse_stream_url


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        "receive", help="receive a bonded RIST stream and deliver it",
        description="Listen for RIST on one or more ports (simple profile with the udp "
        "transport; librist's profiles with --transport librist), merge every link of the "
        "flow and write the stream out. Flags override the config file.",
    )
    parser.add_argument("--listen", action="append", metavar="URL",
                        help="rist://@HOST:PORT, even port; RTCP on PORT+1 (repeatable; "
                        "default: [receiver] listen)")
    parser.add_argument("--output", metavar="URL",
                        help="udp://HOST:PORT, file://PATH or - (stdout) "
                        "(default: [receiver] output)")
    parser.add_argument("--latency-ms", type=int, metavar="N", help="playout latency")
    parser.add_argument("--nack-form", choices=("auto", "range", "generic"),
                        help="NACK form: auto (range for RIST senders, generic for others), "
                        "range (RIST, librist) or generic (RFC 4585, what GStreamer ristsink "
                        "understands) (default: [receiver] nack_form, auto)")
    add_node_arguments(parser, duration_help="stop after S seconds")
    parser.set_defaults(run=run)


def build(args: argparse.Namespace,
          host: PluginHost) -> ReceiverRuntime | SessionReceiverRuntime:
    """Resolve flags and config into a ready runtime."""
    config = load_config(args.config, host=host)
    receiver = override(config.receiver, {
        "output": ("--output", args.output),
        "latency_ms": ("--latency-ms", args.latency_ms),
        "nack_form": ("--nack-form", args.nack_form),
    })
    interval = stats_interval_ms(args, config)
    listen = [parse_listen_url(url) for url in (args.listen or receiver.listen)]
    seen = set()
    for endpoint in listen:
        if (endpoint.host, endpoint.port) in seen:
            raise RistbondError(f"--listen rist://@{endpoint.host}:{endpoint.port} is given twice")
        seen.add((endpoint.host, endpoint.port))
    output_url = parse_stream_url(receiver.output, "output")
    if output_url.kind == "stdio" and args.stats_json == "-":
        raise RistbondError("--output - and --stats-json - both want stdout; send one to a file")
    settings = ReceiverSettings(latency_ms=receiver.latency_ms,
                                max_buffer_packets=receiver.max_buffer_packets,
                                nack_form=receiver.nack_form)
    plan = ReceiverPlan(settings=settings, listen=listen, output_url=output_url,
                        stats_json=args.stats_json, stats_interval_ms=interval,
                        duration_s=args.duration,
                        wake_interval_ms=wake_interval_ms(receiver.wake_interval_ms,
                                                          receiver.latency_ms))
    transport_name, transport_options = transport_choice(args, config, host)
    transport = create_transport(host, transport_name, transport_options)
    telemetry, health = start_telemetry(host, config, transport)
    if isinstance(transport, SessionTransport):
        return SessionReceiverRuntime(plan, host, transport, transport_name,
                                      telemetry=telemetry, health=health)
    return ReceiverRuntime(plan, host, transport,
                          telemetry=telemetry, health=health)


def run(args: argparse.Namespace) -> int:
    """Receive until SIGINT/SIGTERM or ``--duration``."""
    host = PluginHost.discover()
    return build(args, host).run()
