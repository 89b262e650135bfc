"""Steps of either engine's clock, and of the sender's media clock, lose nothing."""

from __future__ import annotations

import pytest

from ristbond_core.engine.clock import EngineClock
from ristbond_core.engine.common import NS_PER_MS, ns_to_rtp_ticks
from ristbond_core.sim.link_model import LinkModel
from ristbond_core.sim.pair import PairSimulation
from tests.engine.test_engine_pair import pair

STEP_AT_NS = 2_500 * NS_PER_MS


def two_links() -> dict[str, LinkModel]:
    # The slow link's packets arrive after their successors on the fast one: any
    # packet released on arrival instead of at its playout time skips one of b's.
    return {"a": LinkModel(delay_ms=30), "b": LinkModel(delay_ms=40)}


def run_with(action: object, *, latency_ms: int = 400) -> tuple[PairSimulation, bool]:
    """Run 5 s with ``action(sim)`` applied once at 2.5 s; True when nothing was lost."""
    sim = pair(two_links(), latency_ms=latency_ms)
    at = sim.now_ns + STEP_AT_NS
    done = False

    def on_time(sim: PairSimulation, now_ns: int) -> None:
        nonlocal done
        if not done and now_ns >= at:
            done = True
            action(sim)  # type: ignore[operator]

    result = sim.run(5.0, packets_per_s=500, on_time=on_time)
    assert done
    return sim, result.output == result.sent


def test_the_engine_clock_absorbs_a_step_back_and_peeking_changes_nothing() -> None:
    clock = EngineClock(1_000)
    assert clock.read(1_500) == 1_500
    assert clock.peek(900) == 1_500  # an observer's stale reading is not a step
    assert clock.backward_steps == 0
    assert clock.read(500) == 1_500  # stepped back 1000: no time passed
    assert clock.read(600) == 1_600
    assert clock.backward_steps == 1
    assert clock.to_caller(1_700) == 700
    assert clock.absorb(50) == 1_550
    assert clock.give_back(50) == 1_600


@pytest.mark.parametrize("offset_ms", [2_000, -2_000])
def test_a_step_of_the_receiver_clock_is_absorbed(offset_ms: int) -> None:
    sim, intact = run_with(lambda s: s.jump_clock("receiver", offset_ms * NS_PER_MS))
    assert intact
    flow = sim.receiver.counters
    assert (flow.clock_steps, flow.stalls, flow.flow_resets) == (1, 0, 0)


@pytest.mark.parametrize("offset_ms", [1_500, -1_500])
def test_a_step_of_the_sender_clock_loses_nothing(offset_ms: int) -> None:
    # 800 ms latency: a step forward makes the timestamps run ahead, and one of more
    # than latency + 1 s is still judged implausible (the flow re-syncs after 1 s).
    sim, intact = run_with(lambda s: s.jump_clock("sender", offset_ms * NS_PER_MS),
                           latency_ms=800)
    assert intact
    # Only a step back is absorbed: a jump forward is elapsed time to the sender.
    assert sim.sender.counters.clock_steps == (1 if offset_ms < 0 else 0)
    assert sim.receiver.counters.flow_resets == 0


def test_a_sender_media_clock_stepping_back_re_bases_the_playout() -> None:
    # A sender that does not absorb its clock's steps (a foreign one): its timestamps
    # jump back 1 s, so every packet looks 1 s slower than the mapping expects.
    def step_back(sim: PairSimulation) -> None:
        sim.sender._ts_base -= ns_to_rtp_ticks(1_000 * NS_PER_MS)

    sim, intact = run_with(step_back)
    assert intact
    assert sim.receiver.counters.timing_rebases == 1
    assert sim.receiver.counters.flow_resets == 0


def test_a_stall_is_not_taken_for_a_clock_step() -> None:
    # Neither engine runs for 300 ms, then the queued datagrams arrive at once: the
    # packets sent after it show that the time passed, so it is given back.
    sim, intact = run_with(lambda s: s.stall(300 * NS_PER_MS))
    assert intact
    flow = sim.receiver.counters
    assert (flow.stalls, flow.clock_steps, flow.timing_rebases) == (1, 0, 0)
