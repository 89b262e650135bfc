"""Loss attribution from flow retransmissions, and the split dither that makes it work.

No librist needed: windows are fed the way the transport feeds them, with seeded
binomial losses standing in for a lossy link.
"""

from __future__ import annotations

import random

import pytest
from ristbond_transport_librist.loss_attribution import LossAttributor

WINDOW_NS = 1_000_000_000
PACKETS_PER_WINDOW = 380  # 4 Mbit/s of 1316-byte payloads


def run(attributor: LossAttributor, true_loss: dict[str, float], windows: int,
        base: dict[str, float], rng: random.Random, *, start: int = 0) -> None:
    """Stream ``windows`` windows: split by the (dithered) base shares, lose packets per
    link, and report each link's originals and the flow's retransmissions the way
    librist does: all on one peer (the receiver's lowest-RTT link, here the last)."""
    last = list(base)[-1]
    for k in range(start, start + windows):
        now = k * WINDOW_NS + WINDOW_NS // 2
        shares = attributor.dither(base, now)
        total = sum(shares.values())
        lost = 0
        for link_id, share in shares.items():
            originals = round(PACKETS_PER_WINDOW * share / total)
            lost_here = sum(rng.random() < true_loss[link_id] for _ in range(originals))
            lost += lost_here
            attributor.observe(link_id, now, originals, 0)
        attributor.observe(last, now, 0, lost)
    attributor.observe(last, (start + windows) * WINDOW_NS + 1, 0, 0)  # closes the last


def test_a_steady_split_attributes_the_pooled_rate_to_every_link() -> None:
    attributor = LossAttributor(WINDOW_NS, dither_amplitude=0.0)
    run(attributor, {"a": 0.1, "b": 0.0}, 10, {"a": 0.5, "b": 0.5}, random.Random(1))
    pooled = attributor.pooled_loss
    assert pooled == pytest.approx(0.05, abs=0.015)
    assert attributor.loss("a") == pytest.approx(pooled, abs=0.005)
    assert attributor.loss("b") == pytest.approx(pooled, abs=0.005)


@pytest.mark.parametrize("seed", range(1, 6))
def test_dithering_finds_the_lossy_link_within_a_few_windows(seed: int) -> None:
    attributor = LossAttributor(WINDOW_NS)
    base = {"a": 0.5, "b": 0.5}
    rng = random.Random(seed)
    run(attributor, {"a": 0.0, "b": 0.0}, 5, base, rng)
    assert attributor.loss("a") == attributor.loss("b") == 0.0
    run(attributor, {"a": 0.15, "b": 0.0}, 4, base, rng, start=5)
    assert attributor.loss("a") > 0.09
    assert attributor.loss("b") < 0.02
    # Later windows sharpen it: the estimate converges on the true rate.
    run(attributor, {"a": 0.15, "b": 0.0}, 10, base, rng, start=9)
    assert attributor.loss("a") == pytest.approx(0.15, abs=0.04)
    assert attributor.loss("b") < 0.02


def test_three_links_each_get_their_own_rate() -> None:
    attributor = LossAttributor(WINDOW_NS)
    base = {"a": 0.4, "b": 0.3, "c": 0.3}
    run(attributor, {"a": 0.0, "b": 0.1, "c": 0.02}, 30, base, random.Random(7))
    assert attributor.loss("a") < 0.02
    assert attributor.loss("b") == pytest.approx(0.1, abs=0.04)
    assert attributor.loss("c") < attributor.loss("b") / 2


def test_losses_forgotten_once_the_link_is_clean_again() -> None:
    attributor = LossAttributor(WINDOW_NS)
    base = {"a": 0.5, "b": 0.5}
    rng = random.Random(3)
    run(attributor, {"a": 0.2, "b": 0.0}, 10, base, rng)
    assert attributor.loss("a") > 0.1
    run(attributor, {"a": 0.0, "b": 0.0}, 15, base, rng, start=10)
    assert attributor.loss("a") < 0.01


def test_no_dither_while_the_flow_is_clean() -> None:
    attributor = LossAttributor(WINDOW_NS)
    base = {"a": 0.7, "b": 0.3}
    assert attributor.dither(base, 0) == base
    run(attributor, {"a": 0.0, "b": 0.0}, 3, base, random.Random(1))
    assert all(attributor.dither(base, k * WINDOW_NS) == base for k in range(4))


def test_dither_takes_turns_keeps_the_mean_and_skips_excluded_links() -> None:
    attributor = LossAttributor(WINDOW_NS)
    run(attributor, {"a": 0.1, "b": 0.1, "c": 0.1}, 3, {"a": 0.5, "b": 0.5, "c": 0.0},
        random.Random(1))
    base = {"a": 0.8, "b": 0.2, "c": 0.0}
    first, second = (attributor.dither(base, k * WINDOW_NS) for k in (10, 11))
    for shares in (first, second):
        assert sum(shares.values()) == pytest.approx(1.0)
        assert shares["c"] == 0.0  # the lifecycle excluded it: never dithered onto
    boosted = {max(first, key=lambda k: first[k] - base[k]),
               max(second, key=lambda k: second[k] - base[k])}
    assert boosted == {"a", "b"}
    # At most doubling the smaller link; over a full turn the mean split is the base.
    assert max(first["b"], second["b"]) == pytest.approx(0.4)
    for link_id in ("a", "b"):
        assert (first[link_id] + second[link_id]) / 2 == pytest.approx(base[link_id])


def test_links_come_and_go() -> None:
    attributor = LossAttributor(WINDOW_NS)
    rng = random.Random(5)
    run(attributor, {"a": 0.0, "b": 0.2}, 8, {"a": 0.5, "b": 0.5}, rng)
    attributor.remove_link("b")
    attributor.remove_link("b")  # unknown ids are ignored
    run(attributor, {"a": 0.0, "c": 0.0}, 12, {"a": 0.5, "c": 0.5}, rng, start=8)
    assert set(attributor.stats()["loss"]) == {"a", "c"}  # type: ignore[call-overload]
    assert attributor.loss("a") < 0.02 and attributor.loss("c") < 0.02


def test_bad_window_is_refused() -> None:
    with pytest.raises(ValueError, match="window_ns"):
        LossAttributor(0)
