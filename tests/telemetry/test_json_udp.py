"""``json-udp``: one datagram per snapshot, split by links when too big, never raises."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from ristbond_core.plugins import PluginHost
from ristbond_core.telemetry.json_udp import (
    JsonUdpExporter,
    JsonUdpOptions,
    SnapshotAssembler,
    encode_snapshot,
    parse_address,
)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5.0)
    try:
        yield sock
    finally:
        sock.close()


def exporter_to(sock: socket.socket, **options: Any) -> JsonUdpExporter:
    port = sock.getsockname()[1]
    return JsonUdpExporter(JsonUdpOptions(address=f"127.0.0.1:{port}", **options))


def many_links(snapshot: dict[str, Any], count: int) -> dict[str, Any]:
    template = snapshot["links"][0]
    return {**snapshot, "links": [{**template, "id": f"modem-{i}"} for i in range(count)]}


def test_core_registers_json_udp() -> None:
    host = PluginHost.discover({"RISTBOND_PLUGINS": "core"})
    assert "json-udp" in host.telemetry.names()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:9000", ("127.0.0.1", 9000)), ("[::1]:9", ("::1", 9)),
     ("collector.local:7000", ("collector.local", 7000))],
)
def test_addresses_parse(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ":9000", ""])
def test_bad_addresses_are_rejected_by_the_options_model(text: str) -> None:
    with pytest.raises(ValidationError, match="address"):
        JsonUdpOptions(address=text)


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(ValidationError):
        JsonUdpOptions.model_validate({"adress": "127.0.0.1:9000"})


def test_one_snapshot_is_one_datagram(listener: socket.socket,
                                      sender_snapshot: dict[str, Any]) -> None:
    exporter = exporter_to(listener)
    try:
        exporter.export(sender_snapshot)
        data = listener.recv(65_535)
    finally:
        exporter.close()
    assert json.loads(data) == sender_snapshot
    assert exporter.counters.datagrams_sent == 1
    assert exporter.counters.send_errors == 0


def test_secrets_are_redacted(listener: socket.socket,
                              sender_snapshot: dict[str, Any]) -> None:
    exporter = exporter_to(listener)
    try:
        exporter.export({**sender_snapshot, "psk": "hunter2",
                         "peer": "rist://host:5000?secret=hunter2"})
        text = listener.recv(65_535).decode()
    finally:
        exporter.close()
    assert "hunter2" not in text


def test_an_oversize_snapshot_is_split_by_links_and_reassembled(
    listener: socket.socket, sender_snapshot: dict[str, Any]
) -> None:
    big = many_links(sender_snapshot, 40)
    exporter = exporter_to(listener, max_datagram_bytes=2048)
    assembler = SnapshotAssembler()
    whole = None
    try:
        exporter.export(big)
        for _ in range(exporter.counters.datagrams_sent):
            data = listener.recv(65_535)
            assert len(data) <= 2048
            whole = assembler.feed(data, "node") or whole
    finally:
        exporter.close()
    assert exporter.counters.datagrams_sent > 1
    assert exporter.counters.snapshots_split == 1
    assert whole == big


def test_a_link_too_big_for_any_datagram_is_trimmed_and_counted(
    sender_snapshot: dict[str, Any],
) -> None:
    huge = {**sender_snapshot["links"][0], "id": "fat", "note": "x" * 4000}
    snapshot = {**sender_snapshot, "links": [*sender_snapshot["links"], huge]}
    datagrams, trimmed = encode_snapshot(snapshot, 1500)
    assert trimmed == 1
    parts = [json.loads(d) for d in datagrams]
    assert all(len(d) <= 1500 for d in datagrams)
    assert ["fat"] in [p.get("trimmed_links") for p in parts]
    sent_ids = [link["id"] for p in parts for link in p["links"]]
    assert sent_ids == [link["id"] for link in sender_snapshot["links"]]


def test_parts_of_a_lost_snapshot_do_not_accumulate(sender_snapshot: dict[str, Any]) -> None:
    assembler = SnapshotAssembler(max_pending=4)
    for seq in range(1, 50):
        datagrams, _ = encode_snapshot(many_links({**sender_snapshot, "seq": seq}, 40), 2048)
        assert assembler.feed(datagrams[0], "node") is None  # the other parts are lost
    assert assembler.incomplete == 45
    assert len(assembler._pending) == 4


@pytest.mark.parametrize("junk", [b"", b"\xff\xfe", b"[1,2]", b'{"links": 5}',
                                  b'{"part": {"index": 3, "count": 2}}'])
def test_the_assembler_counts_garbage(junk: bytes) -> None:
    assembler = SnapshotAssembler()
    assert assembler.feed(junk) is None
    assert assembler.malformed == 1


def test_send_errors_are_counted_not_raised(sender_snapshot: dict[str, Any]) -> None:
    exporter = JsonUdpExporter(JsonUdpOptions(address="127.0.0.1:9"))
    exporter._socket.close()  # every send now fails with EBADF
    exporter.export(sender_snapshot)
    assert exporter.counters.send_errors == 1
    assert exporter.counters.datagrams_sent == 0


def test_a_full_socket_buffer_never_blocks(sender_snapshot: dict[str, Any]) -> None:
    # Nobody reads: the kernel buffer fills and sends fail at once (EAGAIN) or are
    # dropped; the exporter returns every time either way.
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    try:
        exporter = exporter_to(sink)
        exporter._socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        for _ in range(2000):
            exporter.export(sender_snapshot)
        exporter.close()
    finally:
        sink.close()
    counters = exporter.counters
    assert counters.snapshots == 2000
    assert counters.datagrams_sent + counters.send_errors == 2000


def test_a_header_too_big_for_a_datagram_is_dropped_and_counted(
    sender_snapshot: dict[str, Any],
) -> None:
    exporter = JsonUdpExporter(JsonUdpOptions(address="127.0.0.1:9", max_datagram_bytes=512))
    try:
        exporter.export({**sender_snapshot, "derived": {"note": "x" * 600}})
    finally:
        exporter.close()
    assert exporter.counters.oversize_dropped == 1
    assert exporter.counters.datagrams_sent == 0


def test_unencodable_snapshots_are_counted(sender_snapshot: dict[str, Any]) -> None:
    exporter = JsonUdpExporter(JsonUdpOptions(address="127.0.0.1:9"))
    try:
        exporter.export({**sender_snapshot, "bad": float("nan")})
        exporter.export({**sender_snapshot, "bad": object()})
    finally:
        exporter.close()
    assert exporter.counters.encode_errors == 2
