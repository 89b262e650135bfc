"""LibristTransport sender -> LibristTransport receiver on loopback (main profile, PSK)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from ristbond_transport_librist import LibristTransport

from ristbond_core.contracts import LinkEndpoint
from tests.librist.helpers import (
    HOST,
    PSK,
    assert_stream_intact,
    drain_receiver,
    links,
    listeners,
    payload,
    settings,
    transport,
    write_paced,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("librist")]

COUNT = 3000
RATE_PPS = 800  # ~8.4 Mbit/s of 1316-byte payloads


@pytest.fixture
def pair(free_port: Callable[[], int]) -> Iterator[tuple[LibristTransport, LibristTransport,
                                                         list[int]]]:
    """A started receiver on two ports and a started 2-link sender aimed at them, with PSK."""
    ports = [free_port(), free_port()]
    receiver, sender = transport(), transport()
    try:
        receiver.start_receiver(settings(), listeners(ports, PSK))
        sender.start_sender(settings(flow_id=2024), links(ports, PSK))
        yield sender, receiver, ports
    finally:
        sender.close()
        receiver.close()


def totals(side: LibristTransport, key: str) -> dict[str, float]:
    return {link: values.get(key, 0.0) for link, values in side.stats()["links"].items()}


def wait_for_reports(side: LibristTransport, key: str, links_wanted: set[str],
                     limit_s: float = 3.0) -> dict[str, float]:
    """Cumulative per-link ``key`` once every wanted link reported (bounded in time)."""
    end = time.monotonic() + limit_s
    found = totals(side, key)
    while time.monotonic() < end and not links_wanted <= set(found):
        time.sleep(0.1)
        found = totals(side, key)
    return found


def test_two_encrypted_links_deliver_a_byte_identical_stream(
        pair: tuple[LibristTransport, LibristTransport, list[int]]) -> None:
    sender, receiver, _ = pair
    collected: list[bytes] = []
    write_paced(sender, COUNT, RATE_PPS, receiver, collected)
    drain_receiver(receiver, collected, COUNT - 1, limit_s=5.0)
    assert_stream_intact(collected, COUNT)
    received = wait_for_reports(receiver, "received_data", {"l0", "l1"})
    assert received["l0"] > COUNT / 4 and received["l1"] > COUNT / 4  # both links carried it


def test_apply_shares_steers_traffic_and_shows_in_stats(
        pair: tuple[LibristTransport, LibristTransport, list[int]]) -> None:
    sender, receiver, _ = pair
    applied = sender.apply_shares({"l0": 0.9, "l1": 0.1})
    assert applied == {"l0": 90, "l1": 10}
    assert sender.stats()["applied_weights"] == {"l0": 90, "l1": 10}
    assert sender.apply_shares({"l0": 0.9, "l1": 0.1}) == applied
    assert sender.stats()["weight_changes"] == 2  # unchanged weights are not re-sent
    collected: list[bytes] = []
    write_paced(sender, 1500, RATE_PPS, receiver, collected)
    drain_receiver(receiver, collected, 1499, limit_s=5.0)
    assert_stream_intact(collected, 1500)
    received = wait_for_reports(receiver, "received_data", {"l0", "l1"})
    assert received["l0"] > 4 * received["l1"] > 0


def test_a_zero_share_keeps_a_small_positive_weight(
        pair: tuple[LibristTransport, LibristTransport, list[int]]) -> None:
    sender, _, _ = pair
    assert sender.apply_shares({"l0": 1.0}) == {"l0": 100, "l1": 1}


def test_duplicate_mode_sends_every_packet_on_every_link(
        pair: tuple[LibristTransport, LibristTransport, list[int]]) -> None:
    sender, receiver, _ = pair
    assert sender.apply_shares({"l0": 1.0}, duplicate=True) == {"l0": 0, "l1": 0}
    collected: list[bytes] = []
    write_paced(sender, 1000, RATE_PPS, receiver, collected)
    drain_receiver(receiver, collected, 999, limit_s=5.0)
    assert_stream_intact(collected, 1000)  # duplicates are removed by librist
    received = wait_for_reports(receiver, "received_data", {"l0", "l1"})
    assert received["l0"] >= 990 and received["l1"] >= 990


def test_links_can_be_added_and_removed_while_streaming(
        free_port: Callable[[], int],
        pair: tuple[LibristTransport, LibristTransport, list[int]]) -> None:
    sender, receiver, ports = pair
    collected: list[bytes] = []
    write_paced(sender, 300, RATE_PPS, receiver, collected)
    sender.remove_link("l1")
    sender.remove_link("no-such-link")
    sender.add_link(LinkEndpoint("l2", HOST, ports[1], options=PSK))
    assert set(sender.apply_shares({"l0": 0.5, "l2": 0.5})) == {"l0", "l2"}
    drain_receiver(receiver, collected, 299, limit_s=5.0)
    first_batch = len(collected)
    write_paced(sender, 1000, RATE_PPS, receiver, collected)
    drain_receiver(receiver, collected, 999, limit_s=5.0)
    assert_stream_intact(collected[:first_batch], 300)
    assert collected[first_batch:] == [payload(i) for i in range(1000)]
    sent = wait_for_reports(sender, "sent", {"l0", "l2"})
    assert sent["l2"] > 100


def test_reports_name_links_and_carry_librist_numbers(
        pair: tuple[LibristTransport, LibristTransport, list[int]]) -> None:
    sender, receiver, _ = pair
    collected: list[bytes] = []
    write_paced(sender, 800, RATE_PPS, receiver, collected)
    time.sleep(0.5)
    sent_reports = sender.poll_reports()
    assert {r.link_id for r in sent_reports} == {"l0", "l1"}
    assert all("sent" in r.counters and "retransmitted" in r.counters for r in sent_reports)
    assert any(r.metrics.rtt_ms is not None for r in sent_reports)
    assert sender.poll_reports() == [] or all(r.link_id in {"l0", "l1"}
                                              for r in sender.poll_reports())
    got = receiver.poll_reports()
    assert {r.link_id for r in got} == {"l0", "l1"}
    assert sender.stats()["callback_errors"] == 0
