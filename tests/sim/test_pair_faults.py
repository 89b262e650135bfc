"""Faults that touch the engines: processing stalls, address changes, clock jumps.

Each runs the real engines and the dwrr plugin for a few simulated seconds.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from ristbond_core.engine.receiver import ReceiverSettings
from ristbond_core.engine.sender import SenderSettings
from ristbond_core.events import LinkStateChanged
from ristbond_core.plugins import PluginHost
from ristbond_core.sim.link_model import LinkModel
from ristbond_core.sim.pair import PairResult, PairSimulation
from ristbond_core.sim.runner import payload_index

NS_PER_S = 1_000_000_000


def make_pair(seed: int = 1) -> PairSimulation:
    links = {"a": LinkModel(delay_ms=20, rate_bps=6e6), "b": LinkModel(delay_ms=30, rate_bps=6e6)}
    scheduler = PluginHost.discover().create_scheduler("dwrr", {}, random.Random(seed))
    return PairSimulation(links, scheduler, sender=SenderSettings(latency_ms=500),
                          receiver=ReceiverSettings(latency_ms=500), seed=seed)


def at(sim: PairSimulation, t_s: float,
       action: Callable[[PairSimulation], None]) -> Callable[[PairSimulation, int], None]:
    """An ``on_time`` hook that does ``action`` once, ``t_s`` into the run."""
    start = sim.now_ns
    done = False

    def hook(sim: PairSimulation, now_ns: int) -> None:
        nonlocal done
        if not done and now_ns - start >= t_s * NS_PER_S:
            done = True
            action(sim)

    return hook


def in_order_and_complete(result: PairResult) -> bool:
    return [payload_index(p) for p in result.output] == list(range(len(result.sent)))


def test_a_stall_delays_output_but_loses_nothing() -> None:
    sim = make_pair()
    result = sim.run(4, packets_per_s=200,
                     on_time=at(sim, 2.0, lambda s: s.stall(300_000_000)))
    assert in_order_and_complete(result)
    start = result.input_times_ns[0]
    during = [t for t in result.output_times_ns if 2.0 * NS_PER_S < t - start < 2.3 * NS_PER_S]
    assert during == []  # nothing runs while stalled


def test_input_during_a_stall_is_sent_when_the_engines_catch_up() -> None:
    sim = make_pair()
    seen: list[int] = []

    def watch(to: str, link: str, data: bytes, at_ns: int) -> None:
        if to == "receiver":
            seen.append(at_ns)

    sim.on_arrival = watch
    start = sim.now_ns
    sim.run(3, packets_per_s=200, on_time=at(sim, 1.0, lambda s: s.stall(500_000_000)))
    assert not [t for t in seen if 1.1 * NS_PER_S < t - start < 1.5 * NS_PER_S]


def test_an_address_change_reattaches_the_sender_link_without_loss() -> None:
    sim = make_pair()
    result = sim.run(5, packets_per_s=200,
                     on_time=at(sim, 2.0, lambda s: s.change_address("b")))
    assert in_order_and_complete(result)
    reasons = [(e.link_id, e.new.value) for e in result.events if isinstance(e, LinkStateChanged)]
    assert ("b", "probe") in reasons[2:]  # probing again after the re-attach


def test_a_small_receiver_clock_step_is_harmless() -> None:
    sim = make_pair()
    result = sim.run(4, packets_per_s=200,
                     on_time=at(sim, 2.0, lambda s: s.jump_clock("receiver", 50_000_000)))
    assert in_order_and_complete(result)


def test_a_sender_clock_step_forward_loses_nothing() -> None:
    sim = make_pair()
    result = sim.run(4, packets_per_s=200,
                     on_time=at(sim, 2.0, lambda s: s.jump_clock("sender", 1_500_000_000)))
    assert in_order_and_complete(result)


def test_each_engine_sees_its_own_clock() -> None:
    sim = make_pair()
    sim.jump_clock("receiver", 7)
    sim.jump_clock("sender", -3)
    assert sim.receiver_now(100) == 107
    assert sim.sender_now(100) == 97
