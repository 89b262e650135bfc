"""The sender's start-up hold: payloads written before a peer connects are not lost."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from ristbond_transport_librist import LibristTransport
from ristbond_transport_librist import transport as transport_module
from ristbond_transport_librist.transport import peer_replied

from ristbond_core.contracts import SessionSettings
from tests.librist.helpers import (
    assert_stream_intact,
    drain_receiver,
    links,
    listeners,
    payload,
    transport,
)

#: Long enough that the time bound does not release anything while the receiver starts.
HOLD_LATENCY_MS = 3000


def wait_until(check: Callable[[], bool], limit_s: float) -> bool:
    end = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.e2e
@pytest.mark.usefixtures("librist")
def test_writes_before_the_receiver_exists_are_held_then_flushed_in_order(
        free_port: Callable[[], int]) -> None:
    port = free_port()
    sender, receiver = transport(), transport()
    settings = SessionSettings(latency_ms=HOLD_LATENCY_MS, flow_id=4040)
    try:
        sender.start_sender(settings, links([port]))
        for index in range(50):
            sender.write(payload(index))
        time.sleep(0.3)  # nobody listens: librist cannot connect
        held = sender.stats()
        assert (held["held_payloads"], held["held_total"], held["held_forced"]) == (50, 50, 0)
        assert held["connected_peers"] == 0
        assert held["payloads_written"] == 50

        receiver.start_receiver(settings, listeners([port]))
        assert wait_until(lambda: sender.stats()["held_payloads"] == 0, limit_s=2.5), \
            "the held payloads were not flushed after the receiver came up"
        for index in range(50, 100):
            sender.write(payload(index))
        collected: list[bytes] = []
        drain_receiver(receiver, collected, 99, limit_s=5.0)
        assert_stream_intact(collected, 100)
        after = sender.stats()
        assert after["connected_peers"] == 1 and after["connection_events"] >= 1
        assert (after["held_total"], after["held_forced"]) == (50, 0)
        assert after["callback_errors"] == 0
    finally:
        sender.close()
        receiver.close()


@pytest.mark.e2e
@pytest.mark.usefixtures("librist")
def test_the_hold_is_bounded_in_count(free_port: Callable[[], int],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport_module, "HOLD_LIMIT", 5)
    sender = transport()
    try:
        sender.start_sender(SessionSettings(latency_ms=HOLD_LATENCY_MS),
                            links([free_port()]))
        for index in range(20):
            sender.write(payload(index))
        stats = sender.stats()
        assert (stats["held_payloads"], stats["held_forced"]) == (5, 15)
    finally:
        sender.close()


@pytest.mark.e2e
@pytest.mark.usefixtures("librist")
def test_the_hold_is_bounded_in_time(free_port: Callable[[], int]) -> None:
    sender: LibristTransport = transport()
    try:
        sender.start_sender(SessionSettings(latency_ms=100), links([free_port()]))
        for index in range(3):
            sender.write(payload(index))
        assert sender.stats()["held_payloads"] == 3
        time.sleep(0.2)
        stats = sender.stats()  # stats() also services the hold
        assert (stats["held_payloads"], stats["held_forced"]) == (0, 3)
    finally:
        sender.close()


def test_a_sender_report_with_replies_counts_as_connected() -> None:
    def report(received: object) -> str:
        stats = {"sent": 4, "received": received}
        return json.dumps({"sender-stats": {"peer": {"id": 1, "stats": stats}}})

    assert peer_replied(report(7))
    assert not peer_replied(report(0))
    assert not peer_replied(report(True))
    assert not peer_replied(report("7"))
    assert not peer_replied('{"receiver-stats":{}}')
    assert not peer_replied("not json")
