"""The shipped schedulers driving the real engines over simulated links.

The scheduler unit tests feed hand-made link views; here the views come from the sender
engine's own estimators (capacity from receiver reports, loss from NACKs) and the
receiver engine puts the stream back together, so the split is what a user would get.

For ``dwrr`` the links are 5 and 1 Mbit/s and the stream 4 Mbit/s, two thirds of the
total capacity: enough that the estimates find each link's rate, with room on the small
link for the traffic the big one sheds when it starts losing packets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ristbond_core.sim.runner import RunRecord, Sample, run_scenario
from ristbond_core.sim.scenario import load_scenario, parse_scenario

LOSS_AT_S = 10.0
LOSS = 0.05

SCENARIO = f"""
name = "dwrr-5-1"
description = "5 and 1 Mbit/s links; link a starts losing {LOSS:.0%} at t = {LOSS_AT_S} s"
bitrate_kbps = 4000
latency_ms = 800
duration_s = 13

[links.a]
delay_ms = 30
rate_mbps = 5
queue_packets = 60

[links.b]
delay_ms = 30
rate_mbps = 1
queue_packets = 20

[[events]]
at_s = {LOSS_AT_S}
link = "a"
set = {{ loss = {LOSS} }}
"""


def _at(samples: list[Sample], t_s: float) -> Sample:
    return min(samples, key=lambda sample: abs(sample.t_s - t_s))


def split_a_to_b(record: RunRecord, t0: float, t1: float) -> float:
    """Original packets (the scheduler's choices, not retransmissions) a : b in [t0, t1]."""
    first, last = _at(record.samples, t0), _at(record.samples, t1)

    def originals(sample: Sample, link: str) -> int:
        return sample.links[link].sent_packets - sample.links[link].retransmitted

    a = originals(last, "a") - originals(first, "a")
    b = originals(last, "b") - originals(first, "b")
    assert b > 0, (a, b)
    return a / b


CLEAN_TWO_LINKS = """
name = "clean-2x6"
description = "two clean 6 Mbit/s links"
bitrate_kbps = 3000
latency_ms = 500
duration_s = 6

[links.a]
delay_ms = 20
rate_mbps = 6

[links.b]
delay_ms = 25
rate_mbps = 6
"""


@pytest.fixture(scope="module", params=[1, 2, 3])
def record(request: pytest.FixtureRequest) -> RunRecord:
    return run_scenario(parse_scenario(SCENARIO, Path(".")), "dwrr", seed=request.param)


def test_the_split_follows_the_capacities_5_to_1(record: RunRecord) -> None:
    assert split_a_to_b(record, 6.0, LOSS_AT_S) == pytest.approx(5.0, rel=0.10)


def test_loss_on_the_big_link_cuts_its_split_by_the_loss_factor_within_2_s(
        record: RunRecord) -> None:
    before = split_a_to_b(record, 6.0, LOSS_AT_S)
    # The second second after the loss appeared: the estimate had one second to see it.
    after = split_a_to_b(record, LOSS_AT_S + 1.0, LOSS_AT_S + 2.0)
    assert after <= before * (1.0 - LOSS) ** 4, (before, after)


def test_weighted_8_to_2_splits_80_20_over_the_engines() -> None:
    record = run_scenario(parse_scenario(CLEAN_TWO_LINKS, Path(".")), "weighted", seed=1,
                          scheduler_options={"weights": {"a": 8, "b": 2}})
    # From when both links are live: before, the lifecycle's warm-up ramp decides.
    start = _at(record.samples, 3.0).links
    end = _at(record.samples, 6.0).links
    assert start["a"].state == start["b"].state == "live"
    a = end["a"].sent_bytes - start["a"].sent_bytes
    b = end["b"].sent_bytes - start["b"].sent_bytes
    assert a / (a + b) == pytest.approx(0.8, abs=0.02)
    assert record.output_indices == list(range(len(record.input_times_ns)))


def test_broadcast_sends_every_packet_on_every_link_and_outputs_one_copy() -> None:
    record = run_scenario(parse_scenario(CLEAN_TWO_LINKS, Path(".")), "broadcast", seed=1)
    sent = len(record.input_times_ns)
    pairs = record.sender_stats["flow"]["capacity_probes"]
    for link in record.samples[-1].links.values():
        # Every input packet, plus at most the tail probe (the last packet once more,
        # so that the receiver can NACK a lost tail) and the packet-pair copies.
        assert sent <= link.sent_packets - link.retransmitted <= sent + 1 + pairs
    # Each packet arrived twice; the receiver put out exactly one copy, in order.
    assert record.output_indices == list(range(sent))
    assert record.receiver_stats["flow"]["duplicate"] >= sent  # the second copies, dropped


def test_dwrr_gives_a_link_back_its_traffic_after_an_outage() -> None:
    """``tunnel``: link a loses everything from 8 s to 10 s. After the lifecycle's
    cooldown and probe it warms up from its old capacity, scaled by the admission
    ramp, and is live again within seconds (it used to sit in warm on 1 % of the
    traffic, its own estimate only reflecting that trickle)."""
    record = run_scenario(load_scenario("tunnel"), "dwrr", seed=1, duration_s=18)
    back = [t for t in record.transitions if t.link_id == "a" and t.new.value == "live"]
    assert len(back) == 2, record.transitions  # at the start, and after the outage
    returned_s = (back[1].at_ns - record.start_ns) / 1e9
    assert returned_s < 16.0, returned_s
    ratio = split_a_to_b(record, returned_s, returned_s + 2.0)
    assert ratio / (1 + ratio) > 0.15, ratio
