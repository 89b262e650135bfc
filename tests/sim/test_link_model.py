"""Each impairment of a simulated path, one behaviour per test."""

from __future__ import annotations

import itertools
import random

from ristbond_core.sim.link_model import LinkModel, SimPath

MS = 1_000_000


def offer_many(model: LinkModel, count: int, seed: int = 7, gap_ns: int = MS) -> SimPath:
    path = SimPath(model, random.Random(seed))
    for n in range(count):
        path.offer_all(1000, n * gap_ns)
    return path


def test_a_plain_path_delays_by_delay_ms_and_draws_no_randomness() -> None:
    rng = random.Random(3)
    before = rng.getstate()
    path = SimPath(LinkModel(delay_ms=25), rng)
    assert path.offer(1000, 0) == 25 * MS
    assert rng.getstate() == before


def test_offer_keeps_its_original_answer_for_a_duplicated_datagram() -> None:
    path = SimPath(LinkModel(delay_ms=10, duplicate=1.0), random.Random(1))
    assert path.offer(1000, 0) == 10 * MS
    assert path.duplicated == 1


def test_bernoulli_loss_drops_about_the_configured_fraction() -> None:
    path = offer_many(LinkModel(loss=0.1), 10_000)
    assert 0.08 < path.dropped_loss / path.offered < 0.12


def test_gilbert_elliott_loses_in_bursts_at_the_stationary_rate() -> None:
    # p = 0.01, r = 0.2: bad 1/21 of the time, mean burst 5 packets.
    model = LinkModel(ge_p=0.01, ge_r=0.2, ge_loss_bad=1.0)
    path = SimPath(model, random.Random(5))
    lost = [not path.offer_all(1000, n * MS) for n in range(50_000)]
    rate = sum(lost) / len(lost)
    bursts = sum(1 for a, b in zip([False, *lost], lost, strict=False) if b and not a)
    assert 0.035 < rate < 0.06
    assert 3.5 < sum(lost) / bursts < 6.5


def test_duplication_delivers_some_datagrams_twice() -> None:
    path = SimPath(LinkModel(duplicate=0.2), random.Random(2))
    copies = [len(path.offer_all(1000, n * MS)) for n in range(5_000)]
    assert set(copies) == {1, 2}
    assert 0.17 < copies.count(2) / len(copies) < 0.23


def test_reorder_holds_some_datagrams_back_past_their_successors() -> None:
    path = SimPath(LinkModel(reorder=0.25, reorder_ms=15), random.Random(4))
    arrivals = [path.offer(1000, n * MS) for n in range(2_000)]
    assert 0.22 < path.reordered / len(arrivals) < 0.28
    # Sent 1 ms apart, a datagram held back 15 ms arrives after the ones behind it.
    overtaken = sum(1 for t, later in itertools.pairwise(arrivals)
                    if t is not None and later is not None and t > later)
    assert overtaken > 0.15 * len(arrivals)


def test_preserve_order_false_lets_jitter_reorder() -> None:
    ordered = SimPath(LinkModel(jitter_ms=50), random.Random(1))
    loose = SimPath(LinkModel(jitter_ms=50, preserve_order=False), random.Random(1))
    a = [ordered.offer(100, n * MS) for n in range(200)]
    b = [loose.offer(100, n * MS) for n in range(200)]
    assert a == sorted(a)  # type: ignore[type-var]
    assert b != sorted(b)  # type: ignore[type-var]


def test_an_outage_drops_everything_until_the_link_is_up_again() -> None:
    model = LinkModel()
    path = SimPath(model, random.Random(1))
    model.up = False
    assert path.offer_all(1000, 0) == []
    model.up = True
    assert path.offer_all(1000, MS) != []
    assert path.dropped_outage == 1


def test_a_full_queue_drops_and_the_rate_spaces_departures() -> None:
    path = SimPath(LinkModel(delay_ms=0, rate_bps=8e6, queue_packets=3), random.Random(1))
    arrivals = [path.offer(1000, 0) for _ in range(4)]
    assert arrivals == [MS, 2 * MS, 3 * MS, None]  # 1000 bytes at 8 Mbit/s = 1 ms each
    assert path.dropped_queue == 1


def test_reset_queue_forgets_queued_departures() -> None:
    path = SimPath(LinkModel(delay_ms=0, rate_bps=8e6, queue_packets=2), random.Random(1))
    path.offer(1000, 0)
    path.offer(1000, 0)
    path.reset_queue()
    assert path.offer(1000, 0) == MS
