"""``broadcast``: every packet on every usable link."""

from __future__ import annotations

from collections.abc import Callable

from ristbond_core.contracts import LinkState, PacketInfo, Scheduler
from ristbond_core.testing.conformance import make_link, run_stream


def test_every_packet_goes_on_every_usable_link(make_scheduler: Callable[..., Scheduler]) -> None:
    links = [make_link("a"), make_link("b", usable=False), make_link("c"), make_link("d")]
    result = run_stream(make_scheduler("broadcast"), links, 50)
    assert all(ids == ("a", "c", "d") for ids in result.selections)


def test_retransmissions_are_broadcast_too(make_scheduler: Callable[..., Scheduler]) -> None:
    links = [make_link("a"), make_link("b")]
    packet = PacketInfo(seq=7, size_bytes=1316, retransmission=True)
    assert tuple(make_scheduler("broadcast").select(packet, links, 0)) == ("a", "b")


def test_shares_are_equal_over_usable_links(make_scheduler: Callable[..., Scheduler]) -> None:
    links = [make_link("a"), make_link("b"), make_link("c", state=LinkState.RESET, usable=False)]
    assert make_scheduler("broadcast").shares(links, 0) == {"a": 0.5, "b": 0.5}


def test_with_no_usable_link_it_sends_on_all_links(
    make_scheduler: Callable[..., Scheduler],
) -> None:
    links = [make_link("a", usable=False), make_link("b", usable=False)]
    packet = PacketInfo(seq=0, size_bytes=1316)
    assert tuple(make_scheduler("broadcast").select(packet, links, 0)) == ("a", "b")
