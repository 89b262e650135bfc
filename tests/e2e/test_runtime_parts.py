"""The runtime's pieces on their own: URLs, test stream checker, inputs, reports."""

from __future__ import annotations

import io
import os
import random

import pytest

from ristbond_core.config.models import LinkConfig, SenderConfig
from ristbond_core.engine.common import NS_PER_MS, NS_PER_S
from ristbond_core.engine.sender import SenderEngine, SenderSettings
from ristbond_core.errors import RistbondError
from ristbond_core.plugins import PluginHost
from ristbond_core.runtime.backends import merge_links
from ristbond_core.runtime.clock import process_clock
from ristbond_core.runtime.inputs import PacedInput, PipeInput, endless_testsrc
from ristbond_core.runtime.meter import StreamMeter
from ristbond_core.runtime.options import override
from ristbond_core.runtime.report import ConsoleView, final_line, render_view
from ristbond_core.runtime.testsrc import CHUNK_BYTES, TS_PACKET, check_ts, expected_testsrc
from ristbond_core.runtime.urls import (
    link_endpoint,
    parse_link_url,
    parse_listen_url,
    parse_stream_url,
)


def test_a_link_url_carries_interface_source_weight_id_and_transport_options() -> None:
    link = parse_link_url("rist://10.0.0.1:5000?iface=wwan0&source=10.1.1.2&weight=2.5"
                          "&id=lte&dscp=46", "link1")
    assert (link.id, link.interface, link.source, link.weight) == ("lte", "wwan0", "10.1.1.2", 2.5)
    assert link.options == {"dscp": "46"}
    endpoint = link_endpoint(link)
    assert (endpoint.host, endpoint.port) == ("10.0.0.1", 5000)


def test_an_ipv6_link_and_listen_url_lose_their_brackets() -> None:
    assert link_endpoint(parse_link_url("rist://[::1]:5000", "l")).host == "::1"
    assert parse_listen_url("rist://@[::1]:5000").host == "::1"
    assert parse_listen_url("rist://@:5000").host == ""


@pytest.mark.parametrize(
    ("url", "kind", "host", "port", "multicast"),
    [
        ("udp://@239.1.1.1:5000", "udp", "239.1.1.1", 5000, True),
        ("udp://@127.0.0.1:5001", "udp", "127.0.0.1", 5001, False),
        ("udp://@:5002", "udp", "", 5002, False),
        ("-", "stdio", "", 0, False),
        ("testsrc://?bitrate=4000", "testsrc", "", 0, False),
    ],
)
def test_input_urls(url: str, kind: str, host: str, port: int, multicast: bool) -> None:
    parsed = parse_stream_url(url, "input")
    assert (parsed.kind, parsed.host, parsed.port, parsed.multicast) == \
        (kind, host, port, multicast)


def test_file_urls_keep_relative_and_absolute_paths() -> None:
    assert parse_stream_url("file:///data/in.ts", "input").path == "/data/in.ts"
    assert parse_stream_url("file://out.ts", "output").path == "out.ts"


def test_testsrc_is_not_an_output() -> None:
    with pytest.raises(RistbondError, match="--output"):
        parse_stream_url("testsrc://", "output")


def test_the_test_stream_checks_clean_and_a_lost_packet_shows() -> None:
    data = expected_testsrc(20)
    assert check_ts(data).clean
    assert check_ts(data).packets == 140
    gap = data[:TS_PACKET * 10] + data[TS_PACKET * 11:]
    assert check_ts(gap).cc_errors == 1
    broken = b"\x00" + data[1:]
    assert check_ts(broken).sync_errors == 1
    assert check_ts(data + b"xx").trailing_bytes == 2


def test_a_paced_input_releases_chunks_at_the_bitrate() -> None:
    bitrate = CHUNK_BYTES * 8 * 100  # 100 chunks per second
    start = 10 * NS_PER_S
    paced = PacedInput(endless_testsrc(), bitrate, start)
    assert len(paced.read(start, 100)) == 1
    assert paced.next_ready_ns() == start + 10 * NS_PER_MS
    assert len(paced.read(start + 5 * NS_PER_MS, 100)) == 0
    assert len(paced.read(start + 100 * NS_PER_MS, 100)) == 10
    # A long stall does not turn into a burst of everything missed.
    assert len(paced.read(start + 60 * NS_PER_S, 1000)) == 1


def test_a_paced_file_ends() -> None:
    paced = PacedInput(iter([b"a", b"b"]), 8_000, 0)
    assert paced.read(5 * NS_PER_MS, 10) == [b"a", b"b"]
    assert paced.finished


def test_a_pipe_is_cut_into_whole_chunks_and_the_tail_flushed_at_eof() -> None:
    reader, writer = os.pipe()
    try:
        pipe = PipeInput(reader, CHUNK_BYTES)
        os.write(writer, bytes(CHUNK_BYTES + 100))
        assert [len(c) for c in pipe.read(0, 16)] == [CHUNK_BYTES]
        os.close(writer)
        writer = -1
        assert [len(c) for c in pipe.read(0, 16)] == [100]
        assert pipe.finished
    finally:
        os.close(reader)
        if writer >= 0:
            os.close(writer)


def test_flags_override_config_and_bad_values_name_the_flag() -> None:
    section = SenderConfig(latency_ms=800)
    assert override(section, {"latency_ms": ("--latency-ms", None)}).latency_ms == 800
    assert override(section, {"latency_ms": ("--latency-ms", 300)}).latency_ms == 300
    with pytest.raises(RistbondError, match="--latency-ms 5"):
        override(section, {"latency_ms": ("--latency-ms", 5)})


def test_a_cli_link_replaces_the_config_link_of_the_same_id() -> None:
    config = [LinkConfig(id="a", url="rist://h:5000"), LinkConfig(id="b", url="rist://h:5000")]
    cli = [LinkConfig(id="a", url="rist://other:6000")]
    merged = merge_links(config, cli)
    assert list(merged) == ["a", "b"]
    assert merged["a"].url == "rist://other:6000"


def sender_snapshot() -> dict[str, object]:
    host = PluginHost.discover()
    scheduler = host.create_scheduler("weighted", {}, random.Random(1))
    engine = SenderEngine(SenderSettings(latency_ms=500), scheduler, ntp_clock=process_clock(),
                          now_ns=NS_PER_S, rng=random.Random(1))
    engine.add_link("lte-a", NS_PER_S)
    engine.send_payload(expected_testsrc(1), NS_PER_S)
    return engine.stats(2 * NS_PER_S)


def test_the_console_view_shows_each_link() -> None:
    lines = render_view(sender_snapshot())
    assert any(line.strip().startswith("lte-a") for line in lines)


def test_the_console_view_is_silent_when_not_a_terminal() -> None:
    stream = io.StringIO()
    view = ConsoleView(stream)
    view.show(sender_snapshot())
    assert not view.enabled and stream.getvalue() == ""


def test_the_final_line_reports_the_stream_hash() -> None:
    meter = StreamMeter()
    meter.add(b"abc")
    line = final_line("sender", "SIGINT", sender_snapshot(), meter, {"send_errors": 2})
    assert line.startswith("ristbond send: stopped (SIGINT)")
    assert meter.sha256 in line and "socket errors 2" in line
