"""Estimators against known inputs: hand-computed values and synthetic links."""

from __future__ import annotations

import random

import pytest

from ristbond_core.engine.estimators import (
    CapacityEstimator,
    FreshnessTracker,
    JitterEstimator,
    LinkEstimator,
    LossEstimator,
    RttEstimator,
    jitter_ms_from_ticks,
)

MS = 1_000_000
PACKET_BYTES = 1316  # 7 × 188-byte TS packets


# -- RTT -----------------------------------------------------------------------------------


def test_rtt_first_samples_follow_rfc6298() -> None:
    rtt = RttEstimator()
    assert rtt.srtt_ms is None
    assert rtt.rto_ms() is None
    rtt.on_sample(100.0, 0)
    assert (rtt.srtt_ms, rtt.rttvar_ms) == (100.0, 50.0)
    rtt.on_sample(60.0, MS)
    # RTTVAR = 3/4·50 + 1/4·|100 − 60| = 47.5 ; SRTT = 7/8·100 + 1/8·60 = 95
    assert rtt.rttvar_ms == pytest.approx(47.5)
    assert rtt.srtt_ms == pytest.approx(95.0)
    assert rtt.rto_ms() == pytest.approx(95.0 + 4 * 47.5)


def test_rtt_converges_on_a_noisy_link() -> None:
    rng = random.Random(7)
    rtt = RttEstimator()
    for i in range(300):
        rtt.on_sample(80.0 + rng.uniform(-5.0, 5.0), i * 100 * MS)
    assert rtt.srtt_ms == pytest.approx(80.0, abs=2.0)
    assert rtt.rttvar_ms is not None
    assert rtt.rttvar_ms < 5.0


def test_min_rtt_tracks_the_smallest_sample_and_forgets_after_its_window() -> None:
    rtt = RttEstimator(min_window_ms=10_000)
    rtt.on_sample(50.0, 0)
    rtt.on_sample(30.0, 1_000 * MS)
    rtt.on_sample(45.0, 2_000 * MS)
    assert rtt.min_rtt_ms(2_000 * MS) == 30.0
    # The path got longer: after the window only the new samples count.
    for t_ms in range(3_000, 14_000, 100):
        rtt.on_sample(70.0, t_ms * MS)
    assert rtt.min_rtt_ms(14_000 * MS) == 70.0


@pytest.mark.parametrize("garbage", [-1.0, float("nan"), float("inf")])
def test_rtt_ignores_impossible_samples(garbage: float) -> None:
    rtt = RttEstimator()
    rtt.on_sample(40.0, 0)
    assert not rtt.on_sample(garbage, MS)
    assert rtt.srtt_ms == 40.0
    assert rtt.samples == 1


# -- loss ------------------------------------------------------------------------------------


def test_loss_ratio_is_attributed_losses_over_sent() -> None:
    loss = LossEstimator(window_ms=2_000)
    for i in range(1_000):
        loss.on_sent(1, i * MS)
    for seq in range(0, 1_000, 20):
        assert loss.on_lost(seq, 999 * MS)
    assert loss.ratio(999 * MS) == pytest.approx(0.05)
    assert loss.cumulative_ratio == pytest.approx(0.05)
    assert (loss.sent_total, loss.lost_total) == (1_000, 50)


def test_loss_counts_a_renacked_seq_once() -> None:
    loss = LossEstimator()
    loss.on_sent(10, 0)
    assert loss.on_lost(7, MS)
    assert not loss.on_lost(7, 2 * MS)
    assert loss.lost_total == 1
    assert loss.ratio(2 * MS) == pytest.approx(0.1)


def test_loss_window_forgets_old_losses_but_counters_do_not() -> None:
    loss = LossEstimator(window_ms=1_000)
    loss.on_sent(100, 0)
    loss.on_lost(1, 0)
    for t_ms in range(100, 3_000, 100):
        loss.on_sent(10, t_ms * MS)
    assert loss.ratio(3_000 * MS) == 0.0
    assert loss.lost_total == 1
    assert loss.cumulative_ratio == pytest.approx(1 / 390)


def test_loss_with_nacks_but_nothing_sent_in_window_reads_total_loss() -> None:
    loss = LossEstimator(window_ms=1_000)
    loss.on_sent(10, 0)
    loss.on_lost(3, 5_000 * MS)
    assert loss.ratio(5_000 * MS) == 1.0


# -- jitter ----------------------------------------------------------------------------------


def test_jitter_matches_a_hand_computed_rfc3550_example() -> None:
    # 20 ms packets (1800 ticks at 90 kHz) arriving at 0, 20, 45, 60 and 80 ms.
    # Transit changes D: 0, +5 ms, −5 ms, 0 → 0, 450, 450, 0 ticks.
    #   J1 = 0
    #   J2 = 0 + (450 − 0)/16                    = 28.125
    #   J3 = 28.125 + (450 − 28.125)/16          = 54.4921875
    #   J4 = 54.4921875 + (0 − 54.4921875)/16    = 51.0864257812...
    jitter = JitterEstimator()
    for i, arrival_ms in enumerate([0, 20, 45, 60, 80]):
        jitter.on_packet(1_000 + i * 1_800, arrival_ms * MS)
    assert jitter.jitter_ticks == pytest.approx(51.08642578125)
    assert jitter.jitter_ms == pytest.approx(51.08642578125 / 90)


def test_jitter_survives_rtp_timestamp_wraparound() -> None:
    jitter = JitterEstimator()
    start = (1 << 32) - 1_800
    for i in range(50):
        jitter.on_packet(start + i * 1_800, i * 20 * MS)
    assert jitter.jitter_ms == pytest.approx(0.0, abs=1e-9)


def test_reported_jitter_converts_from_timestamp_units() -> None:
    assert jitter_ms_from_ticks(900) == pytest.approx(10.0)
    assert jitter_ms_from_ticks(48, clock_rate_hz=48_000) == pytest.approx(1.0)


# -- delivery rate and capacity ------------------------------------------------------------


class FifoLink:
    """A bottleneck of ``capacity_bps`` with an unbounded FIFO, stepped in 1 ms slices."""

    def __init__(self, capacity_bps: float, base_delay_ms: float = 20.0) -> None:
        self.capacity_bps = capacity_bps
        self.base_delay_ms = base_delay_ms
        self.queue_bytes = 0.0

    def step_1ms(self, arriving_bytes: float) -> float:
        self.queue_bytes += arriving_bytes
        served = min(self.queue_bytes, self.capacity_bps / 8 / 1_000)
        self.queue_bytes -= served
        return served

    @property
    def delay_ms(self) -> float:
        return self.base_delay_ms + self.queue_bytes * 8 / self.capacity_bps * 1_000


def drive(
    estimator: CapacityEstimator,
    link: FifoLink,
    *,
    send_bps: float,
    start_ms: int,
    duration_ms: int,
    reports: bool = True,
    rng: random.Random | None = None,
) -> int:
    """Send packets at ``send_bps`` through ``link``; report every 100 ms, delay every 10 ms."""
    credit = 0.0
    delivered = sent = 0.0
    for t_ms in range(start_ms + 1, start_ms + duration_ms + 1):
        now = t_ms * MS
        credit += send_bps / 8 / 1_000
        arriving = 0.0
        while credit >= PACKET_BYTES:
            credit -= PACKET_BYTES
            arriving += PACKET_BYTES
            estimator.on_sent(PACKET_BYTES, now)
        sent += arriving
        delivered += link.step_1ms(arriving)
        if t_ms % 10 == 0:
            estimator.on_delay_sample(link.delay_ms, now)
        if reports and t_ms % 100 == 0:
            noise = rng.uniform(0.97, 1.03) if rng else 1.0
            estimator.on_receive_report(int(delivered * noise), 100 * MS, now, sent_bytes=int(sent))
            delivered = sent = 0.0
    return start_ms + duration_ms


def test_capacity_of_a_saturated_constant_rate_link_is_within_ten_percent() -> None:
    estimator = CapacityEstimator()
    t = drive(
        estimator,
        FifoLink(8e6),
        send_bps=10e6,
        start_ms=0,
        duration_ms=3_000,
        rng=random.Random(3),
    )
    capacity = estimator.capacity_bps(t * MS)
    assert capacity == pytest.approx(8e6, rel=0.10)
    assert estimator.delivery_rate_bps == pytest.approx(8e6, rel=0.10)


def test_capacity_follows_a_step_down_within_a_second() -> None:
    estimator = CapacityEstimator()
    link = FifoLink(8e6)
    t = drive(estimator, link, send_bps=10e6, start_ms=0, duration_ms=3_000)
    link.capacity_bps = 3e6
    t = drive(estimator, link, send_bps=10e6, start_ms=t, duration_ms=1_000)
    assert estimator.capacity_bps(t * MS) == pytest.approx(3e6, rel=0.10)


def test_capacity_follows_a_step_up_at_once() -> None:
    estimator = CapacityEstimator()
    link = FifoLink(4e6)
    t = drive(estimator, link, send_bps=6e6, start_ms=0, duration_ms=2_000)
    link.capacity_bps = 12e6
    link.queue_bytes = 0.0
    t = drive(estimator, link, send_bps=15e6, start_ms=t, duration_ms=300)
    assert estimator.capacity_bps(t * MS) == pytest.approx(12e6, rel=0.10)


def test_app_limited_link_is_estimated_a_probe_step_above_what_it_proved() -> None:
    estimator = CapacityEstimator()
    t = drive(estimator, FifoLink(20e6), send_bps=2e6, start_ms=0, duration_ms=2_000)
    # Nothing pushed it harder: 2 Mbit/s is only a lower bound, so the estimate invites
    # a probe step more (25 %) instead of pinning the link to what it was given.
    assert not estimator.saturated_recently(t * MS)
    assert estimator.capacity_bps(t * MS) == pytest.approx(2.5e6, rel=0.10)


def test_a_saturated_link_is_estimated_at_what_it_delivered() -> None:
    estimator = CapacityEstimator()
    t = drive(estimator, FifoLink(4e6), send_bps=6e6, start_ms=0, duration_ms=2_000)
    assert estimator.saturated_recently(t * MS)
    # 10 % under what it delivered, so the queue built while measuring drains.
    assert estimator.capacity_bps(t * MS) == pytest.approx(0.9 * 4e6, rel=0.10)


def test_delay_gradient_fallback_without_receive_reports() -> None:
    estimator = CapacityEstimator()
    t = drive(
        estimator, FifoLink(10e6), send_bps=12e6, start_ms=0, duration_ms=2_000, reports=False
    )
    # Queueing delay grows 0.2 ms per ms, so C = 12 Mbit/s / 1.2.
    gradient = estimator.delay_gradient(t * MS)
    assert gradient == pytest.approx(0.2, rel=0.05)
    assert estimator.capacity_bps(t * MS) == pytest.approx(10e6, rel=0.10)


def test_delay_gradient_fallback_on_an_uncongested_link_gives_the_send_rate() -> None:
    estimator = CapacityEstimator()
    t = drive(estimator, FifoLink(50e6), send_bps=5e6, start_ms=0, duration_ms=2_000, reports=False)
    assert estimator.capacity_bps(t * MS) == pytest.approx(5e6, rel=0.10)


def test_capacity_is_unknown_without_any_evidence() -> None:
    assert CapacityEstimator().capacity_bps(0) is None


@pytest.mark.parametrize(
    ("delivered", "interval_ns", "sent"), [(-1, MS, None), (10, 0, None), (10, MS, -5)]
)
def test_invalid_receive_reports_are_ignored(
    delivered: int, interval_ns: int, sent: int | None
) -> None:
    estimator = CapacityEstimator()
    assert not estimator.on_receive_report(delivered, interval_ns, MS, sent_bytes=sent)
    assert estimator.delivery_rate_bps is None
    assert estimator.reports == 0


# -- freshness and the aggregate ---------------------------------------------------------------


def test_freshness_is_the_age_of_the_newest_feedback() -> None:
    freshness = FreshnessTracker()
    assert freshness.age_ms(5 * MS) is None
    freshness.on_feedback(10 * MS)
    freshness.on_feedback(4 * MS)  # a late, older report does not make it fresher
    assert freshness.age_ms(250 * MS) == pytest.approx(240.0)
    assert freshness.age_ms(0) == 0.0


def test_link_estimator_snapshot_combines_every_estimate() -> None:
    link = LinkEstimator()
    for i in range(100):  # all within the loss window (1 s) at the snapshot
        link.on_sent(PACKET_BYTES, 400 * MS + i * 5 * MS)
    link.on_rtt_sample(42.0, 500 * MS)
    link.on_lost(17, 600 * MS)
    link.on_reported_jitter(3.5, 700 * MS)
    link.on_receive_report(100_000, 100 * MS, 900 * MS, sent_bytes=110_000)
    snapshot = link.snapshot(1_000 * MS)
    assert snapshot.rtt_ms == 42.0
    assert snapshot.min_rtt_ms == 42.0
    assert snapshot.loss == pytest.approx(0.01)
    assert snapshot.jitter_ms == 3.5
    assert snapshot.delivery_rate_bps == pytest.approx(8e6)
    # The report shows saturation (sent > delivered): the estimate drains 10 % below it.
    assert snapshot.capacity_bps == pytest.approx(0.9 * 8e6)
    assert snapshot.feedback_age_ms == pytest.approx(100.0)
    assert link.sent_bytes_total == 100 * PACKET_BYTES


def test_link_estimator_uses_local_jitter_on_the_receiver() -> None:
    link = LinkEstimator()
    for i, arrival_ms in enumerate([0, 20, 45, 60, 80]):
        link.on_packet_arrival(i * 1_800, arrival_ms * MS)
    assert link.snapshot(80 * MS).jitter_ms == pytest.approx(51.08642578125 / 90)
    assert link.snapshot(80 * MS).feedback_age_ms is None
