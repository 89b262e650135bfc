"""A bond over real veth links with ``tc tbf`` rate limits, inside fresh network namespaces.

Two namespaces: the sender's, and one holding the relays and the receiver, joined by
one veth pair per link. Each veth is rate-limited by ``tbf`` in both directions and the
relays add delay and loss, so the stream crosses real kernel queues as well as the
user-space impairments. Nothing touches the host's own network: every interface is
created inside the namespaces, which are deleted at the end.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import require_program
from tests.e2e_impaired.harness import (
    assert_whole_stream,
    netem_argv,
    processes,
    require_send_receive,
    ristbond_argv,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LINKS = 2
FORWARD_RATE = "3mbit"  # per link; the 2000 kbit/s stream needs both links' share
REVERSE_RATE = "1mbit"
RELAY_PORT = 23100
RECEIVE_PORT = 23200
SEND_S = 10


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), check=True, capture_output=True, text=True, timeout=30)


@contextmanager
def namespace_pair() -> Iterator[tuple[str, str, str]]:
    """Two new namespaces (sender, far end) and a short token for interface names."""
    require_program("ip", "iproute2")
    require_program("tc", "iproute2")
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    token = secrets.token_hex(3)
    names = (f"rbnetem-{token}-s", f"rbnetem-{token}-v")
    created: list[str] = []
    try:
        for name in names:
            try:
                run("ip", "netns", "add", name)
            except subprocess.CalledProcessError as exc:
                pytest.skip(f"'ip netns add' failed: {exc.stderr.strip()}")
            created.append(name)
            run("ip", "-n", name, "link", "set", "lo", "up")
        yield names[0], names[1], token
    finally:
        for name in created:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30,
                           check=False)


def add_link(sender_ns: str, far_ns: str, token: str, index: int) -> tuple[str, str]:
    """A veth pair between the namespaces, addressed 10.231.INDEX.1/.2, tbf on both ends."""
    near, far = f"rb{token}s{index}", f"rb{token}v{index}"
    run("ip", "-n", sender_ns, "link", "add", near, "type", "veth", "peer", "name", far,
        "netns", far_ns)
    run("ip", "-n", sender_ns, "addr", "add", f"10.231.{index}.1/24", "dev", near)
    run("ip", "-n", far_ns, "addr", "add", f"10.231.{index}.2/24", "dev", far)
    run("ip", "-n", sender_ns, "link", "set", near, "up")
    run("ip", "-n", far_ns, "link", "set", far, "up")
    run("tc", "-n", sender_ns, "qdisc", "add", "dev", near, "root", "tbf", "rate", FORWARD_RATE,
        "burst", "32kbit", "latency", "100ms")
    run("tc", "-n", far_ns, "qdisc", "add", "dev", far, "root", "tbf", "rate", REVERSE_RATE,
        "burst", "16kbit", "latency", "100ms")
    return near, far


def tbf_packets(namespace: str, device: str) -> int:
    """Packets the device's tbf qdisc has sent."""
    text = run("tc", "-s", "-n", namespace, "qdisc", "show", "dev", device).stdout
    match = re.search(r"Sent \d+ bytes (\d+) pkt", text)
    return int(match.group(1)) if match else 0


def test_bond_over_rate_limited_veth_links_in_namespaces(tmp_path: Path) -> None:
    require_send_receive()
    with namespace_pair() as (sender_ns, far_ns, token):
        devices = [add_link(sender_ns, far_ns, token, index) for index in range(1, LINKS + 1)]
        output = tmp_path / "out.ts"
        with processes(tmp_path) as group:
            receiver = group.start("receive", ristbond_argv(
                "-v", "receive", "--listen", f"rist://@127.0.0.1:{RECEIVE_PORT}",
                "--output", f"file://{output}", "--latency-ms", "1000",
                "--duration", str(SEND_S + 15), netns=far_ns))
            relays = [group.start(f"netem{index}", netem_argv(
                f"10.231.{index}.2:{RELAY_PORT}", f"127.0.0.1:{RECEIVE_PORT}", delay="15ms",
                jitter="5ms", loss="2%", seed=index, netns=far_ns))
                for index in range(1, LINKS + 1)]
            for relay in relays:
                group.wait_for_text(relay, "ristbond netem: ")
            links = []
            for index in range(1, LINKS + 1):
                links += ["--link", f"rist://10.231.{index}.2:{RELAY_PORT}?id=veth{index}"]
            sender = group.start("send", ristbond_argv(
                "-v", "send", "--input", "testsrc://?bitrate=2000", *links, "--latency-ms", "1000",
                "--duration", str(SEND_S), netns=sender_ns))
            assert group.wait(sender, SEND_S + 60) == 0, sender.text()
            assert group.wait(receiver, SEND_S + 60) == 0, receiver.text()
            send_log, receive_log = sender.text(), receiver.text()
        forward_packets = [tbf_packets(sender_ns, near) for near, _ in devices]
        reverse_packets = [tbf_packets(far_ns, far) for _, far in devices]
    assert_whole_stream(output.read_bytes(), send_log, receive_log)
    # Both rate-limited veths carried the stream and the receiver's RTCP came back on them.
    assert all(count > 20 for count in forward_packets), forward_packets
    assert all(count > 10 for count in reverse_packets), reverse_packets
