"""Per-link estimators: RTT, attributed loss, jitter, delivery rate/capacity, freshness.

Plain objects fed observations with an explicit ``now_ns``; no clocks, sockets or
randomness. Values a peer sends are checked here: a negative, NaN or infinite
measurement is dropped (the method returns False) instead of poisoning an average.
``LinkEstimator`` bundles one of each and produces a
:class:`~ristbond_core.contracts.LinkMetrics` snapshot.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import deque

from ristbond_core.contracts import LinkMetrics
from ristbond_core.engine.windowed import WindowedExtremum, WindowedSum

_NS_PER_MS = 1_000_000
_NS_PER_S = 1_000_000_000
#: Sends remembered for the send rate at most (the oldest go first).
_MAX_SENDS = 16_384
_RTP_TS_MODULUS = 1 << 32
#: How far back the send history reaches (longer than any useful RTT).
_SENT_HISTORY_NS = 4 * _NS_PER_S
#: Receive reports whose sent/delivered bytes are summed to tell a full link.
_BALANCE_REPORTS = 5
#: A full link holds back at least this much more than it delivered (two packets).
_MIN_DEFICIT_BYTES = 3000
#: Packet-pair rates remembered at most (one per receive report that carried one).
_MAX_DISPERSION_SAMPLES = 64


def _finite_non_negative(value: float) -> bool:
    return math.isfinite(value) and value >= 0.0


class RttEstimator:
    """Smoothed RTT and variation as in RFC 6298 (alpha 1/8, beta 1/4), plus windowed min.

    The windowed minimum is the link's propagation-delay estimate; it forgets after
    ``min_window_ms`` so a route change to a longer path is eventually accepted.
    """

    ALPHA = 0.125
    BETA = 0.25

    def __init__(self, *, min_window_ms: int = 10_000) -> None:
        self._min = WindowedExtremum(min_window_ms * _NS_PER_MS)
        self.srtt_ms: float | None = None
        self.rttvar_ms: float | None = None
        self.latest_ms: float | None = None
        self.samples = 0

    def on_sample(self, rtt_ms: float, now_ns: int) -> bool:
        """Fold in one RTT measurement; False (and ignored) when it is not a valid time."""
        if not _finite_non_negative(rtt_ms):
            return False
        if self.srtt_ms is None or self.rttvar_ms is None:
            self.srtt_ms = rtt_ms
            self.rttvar_ms = rtt_ms / 2.0
        else:
            # RTTVAR uses the SRTT from before this sample (RFC 6298 §2.3 order).
            self.rttvar_ms = (1 - self.BETA) * self.rttvar_ms + self.BETA * abs(
                self.srtt_ms - rtt_ms
            )
            self.srtt_ms = (1 - self.ALPHA) * self.srtt_ms + self.ALPHA * rtt_ms
        self.latest_ms = rtt_ms
        self.samples += 1
        self._min.update(rtt_ms, now_ns)
        return True

    def min_rtt_ms(self, now_ns: int) -> float | None:
        """Smallest RTT seen in the last ``min_window_ms``."""
        return self._min.value(now_ns)

    def rto_ms(self, *, granularity_ms: float = 1.0) -> float | None:
        """Retransmission timeout SRTT + max(G, 4·RTTVAR); None before the first sample."""
        if self.srtt_ms is None or self.rttvar_ms is None:
            return None
        return self.srtt_ms + max(granularity_ms, 4.0 * self.rttvar_ms)


class LossEstimator:
    """Attributed channel loss: seqs NACKed and attributed to this link over packets sent.

    ``ratio`` is over a sliding window (``window_ms``); cumulative counters are kept for
    stats. A seq NACKed again (a retried NACK) counts once: the last ``dedup_seqs``
    attributed seqs are remembered. Charges the peer later shows to have been wrong
    (the packet arrived after its NACK) are taken back with ``on_late``.
    """

    def __init__(self, *, window_ms: int = 1000, dedup_seqs: int = 8192) -> None:
        window_ns = window_ms * _NS_PER_MS
        self.window_ns = window_ns
        self._sent = WindowedSum(window_ns)
        self._lost = WindowedSum(window_ns)
        self._recent: deque[int] = deque()
        self._recent_set: set[int] = set()
        self._dedup_seqs = dedup_seqs
        self.sent_total = 0
        self.lost_total = 0
        self.late_total = 0

    def on_sent(self, count: int, now_ns: int) -> None:
        """``count`` packets (original or retransmitted) left on this link."""
        if count <= 0:
            return
        self.sent_total += count
        self._sent.add(count, now_ns)

    def on_lost(self, seq: int, now_ns: int) -> bool:
        """The peer reported ``seq`` missing and the sender attributed it to this link.

        Returns False when this seq was already counted.
        """
        if seq in self._recent_set:
            return False
        self._recent.append(seq)
        self._recent_set.add(seq)
        if len(self._recent) > self._dedup_seqs:
            self._recent_set.discard(self._recent.popleft())
        self.lost_total += 1
        self._lost.add(1, now_ns)
        return True

    def on_late(self, count: int, now_ns: int) -> None:
        """``count`` packets charged as lost arrived after all: take the charges back.

        The peer reports them when it next reports on the link, a report interval or so
        after the charge, so the window may briefly hold both; ``ratio`` clamps at 0.
        """
        if count <= 0:
            return
        count = min(count, self.lost_total - self.late_total)
        self.late_total += count
        self._lost.add(-count, now_ns)

    @property
    def net_lost_total(self) -> int:
        """Charges that still stand: lost minus those that turned out late."""
        return self.lost_total - self.late_total

    def ratio(self, now_ns: int, *, sent_earlier: float | None = None) -> float:
        """Lost over sent in the window, clamped to [0, 1].

        NACKs trail the sends they refer to by about one RTT, so a link that stopped
        sending but still collects NACKs reads as 1.0 (it is losing what it sent)
        unless ``sent_earlier`` gives the packets sent in a window one RTT back, which
        the charges are about; the larger of the two counts is then the denominator.
        """
        lost = self._lost.total(now_ns)
        if lost <= 0:
            return 0.0
        sent = self._sent.total(now_ns)
        if sent_earlier is not None:
            sent = max(sent, sent_earlier)
        if sent <= 0:
            return 1.0
        return min(1.0, lost / sent)

    @property
    def cumulative_ratio(self) -> float:
        """Lost over sent since the estimator was created."""
        if self.sent_total == 0:
            return 0.0
        return min(1.0, self.net_lost_total / self.sent_total)


def jitter_ms_from_ticks(jitter_ticks: float, clock_rate_hz: int = 90_000) -> float:
    """Convert an RTCP report block's interarrival jitter (timestamp units) to ms."""
    return jitter_ticks * 1000.0 / clock_rate_hz


class JitterEstimator:
    """Interarrival jitter per RFC 3550 §6.4.1 / A.8: J += (|D| − J) / 16, in ms.

    ``D`` is the change in transit time between consecutive packets, computed from the
    arrival time and the RTP timestamp (32-bit, wrap-aware, ``clock_rate_hz`` ticks/s).
    """

    def __init__(self, *, clock_rate_hz: int = 90_000) -> None:
        if clock_rate_hz <= 0:
            raise ValueError(f"clock rate must be positive, got {clock_rate_hz}")
        self._rate = clock_rate_hz
        self._jitter_ticks = 0.0
        self._prev: tuple[int, int] | None = None  # (rtp timestamp, arrival ns)

    def on_packet(self, rtp_timestamp: int, arrival_ns: int) -> None:
        """One packet arrived at ``arrival_ns`` carrying ``rtp_timestamp``."""
        rtp_timestamp %= _RTP_TS_MODULUS
        if self._prev is not None:
            prev_ts, prev_arrival = self._prev
            ts_delta = (rtp_timestamp - prev_ts + _RTP_TS_MODULUS // 2) % _RTP_TS_MODULUS
            ts_delta -= _RTP_TS_MODULUS // 2
            arrival_delta_ticks = (arrival_ns - prev_arrival) * self._rate / _NS_PER_S
            transit_change = arrival_delta_ticks - ts_delta
            self._jitter_ticks += (abs(transit_change) - self._jitter_ticks) / 16.0
        self._prev = (rtp_timestamp, arrival_ns)

    @property
    def jitter_ticks(self) -> float:
        """Jitter in timestamp units (what an RTCP report block carries)."""
        return self._jitter_ticks

    @property
    def jitter_ms(self) -> float:
        """Jitter in milliseconds."""
        return jitter_ms_from_ticks(self._jitter_ticks, self._rate)


class CapacityEstimator:
    """Delivery rate from receiver reports, and the link capacity behind it.

    Method (documented in ``docs/lifecycle.md``):

    * Each receive report gives ``delivered_bytes`` over ``interval_ns`` → one delivery
      rate sample. A delivered rate is proof the link can carry at least that much, so
      every sample enters a windowed maximum (``window_ms``) — the capacity estimate.
    * A sample is *saturated* when the sender pushed more than got through over the
      last few reports (``sent ≥ delivered × (1 + saturation_margin_ratio)`` and at
      least two packets more) or, when what was sent is unknown, the delay gradient
      shows a growing queue: then the delivery rate *is* the capacity. When
      ``step_down_samples`` consecutive saturated samples all sit more than
      ``step_down_fraction`` below the estimate, the window restarts from them, so a
      capacity drop is followed within a few reports instead of after the window.
    * Probing: a link that showed no saturation within the window has only proved a lower
      bound, and a scheduler that split traffic by it would starve the link (less share,
      less delivered, lower estimate). So the estimate of such a link is the delivered
      maximum times ``1 + probe_gain_ratio``: it invites a little more traffic each
      window until the link saturates. A saturated link is estimated ``drain_ratio``
      below its measured maximum, so the queue our own traffic built can empty instead
      of turning into delay that the lifecycle would (rightly) call degradation.
    * Packet pairs: a receive report may carry the link's bottleneck rate measured by
      packet pairs (two datagrams sent back to back arrive spaced by the narrowest
      hop's serialization time). That rate needs no full link, and it follows a link
      whose rate changes faster than the delivery window, so while pair rates were
      reported within ``dispersion_window_ms`` the estimate is their median, never
      below what the link delivered in that time. It is not overruled when the link
      looks full: a full link delivers its bottleneck rate, which the pairs measure
      too, and "full" is judged from a few reports of bursty per-link traffic, where a
      burst that straddles a report boundary reads as a queue.
    * Without receive reports (a foreign peer) the estimate falls back to the delay
      gradient ``g`` (slope of one-way delay or RTT over ``gradient_window_ms``, ms per
      ms): a FIFO bottleneck of capacity ``C`` fed at rate ``S > C`` grows its queueing
      delay at ``g = S/C − 1``, so ``C = S / (1 + g)``. With a flat gradient the link
      kept up, and the send rate is a lower bound (windowed max).
    """

    def __init__(
        self,
        *,
        window_ms: int = 5000,
        saturation_margin_ratio: float = 0.05,
        step_down_samples: int = 4,
        step_down_fraction: float = 0.2,
        gradient_window_ms: int = 1000,
        gradient_threshold_ratio: float = 0.02,
        probe_gain_ratio: float = 0.25,
        drain_ratio: float = 0.10,
        dispersion_window_ms: int = 800,
    ) -> None:
        window_ns = window_ms * _NS_PER_MS
        self._window_ns = window_ns
        self._max = WindowedExtremum(window_ns, maximum=True)
        # What the link delivered lately: the floor under a packet-pair estimate. The
        # window's maximum would be stale on a link whose rate changes within it.
        self._recent_max = WindowedExtremum(dispersion_window_ms * _NS_PER_MS, maximum=True)
        self._fallback_floor = WindowedExtremum(window_ns, maximum=True)
        self._saturation_margin = saturation_margin_ratio
        self._step_down_fraction = step_down_fraction
        self._saturated_run: deque[float] = deque(maxlen=step_down_samples)
        self._gradient_window_ns = gradient_window_ms * _NS_PER_MS
        self._gradient_threshold = gradient_threshold_ratio
        # (time, bytes) per send within the gradient window, and their byte sum (kept
        # alongside so the send rate costs O(1) per call, not a pass over the window).
        self._sends: deque[tuple[int, int]] = deque()
        self._sends_bytes = 0
        self._delays: deque[tuple[int, float]] = deque(maxlen=2048)
        # (time, bytes sent up to then) for matching a report's interval, which the
        # sender's traffic crossed one RTT before the report arrived.
        self._sent_history: deque[tuple[int, int]] = deque()
        self._sent_cumulative = 0
        self._balance: deque[tuple[int, int]] = deque(maxlen=_BALANCE_REPORTS)
        self._last_report_ns: int | None = None
        self._last_saturated_ns: int | None = None
        self._probe_gain = probe_gain_ratio
        self._drain = drain_ratio
        self.delivery_rate_bps: float | None = None
        self.reports = 0
        self._dispersion_window_ns = dispersion_window_ms * _NS_PER_MS
        self._dispersion: deque[tuple[int, float]] = deque(maxlen=_MAX_DISPERSION_SAMPLES)

    # -- packet pairs ---------------------------------------------------------------------
    def on_dispersion(self, rate_bps: float, now_ns: int) -> bool:
        """The peer measured the link's bottleneck at ``rate_bps`` with packet pairs."""
        if not math.isfinite(rate_bps) or rate_bps <= 0.0:
            return False
        self._dispersion.append((now_ns, rate_bps))
        return True

    def dispersion_bps(self, now_ns: int) -> float | None:
        """Median pair rate reported within the dispersion window; None without one.

        A short window follows a link whose rate changes (a radio link every few
        hundred ms); the median keeps one odd pair from moving the estimate.
        """
        horizon = now_ns - self._dispersion_window_ns
        while self._dispersion and self._dispersion[0][0] < horizon:
            self._dispersion.popleft()
        if not self._dispersion:
            return None
        return statistics.median(rate for _, rate in self._dispersion)

    # -- receive reports ------------------------------------------------------------------
    def on_receive_report(
        self,
        delivered_bytes: int,
        interval_ns: int,
        now_ns: int,
        *,
        sent_bytes: int | None = None,
    ) -> bool:
        """The peer received ``delivered_bytes`` on this link during ``interval_ns``.

        ``sent_bytes`` is what the sender put on the link over the same interval (and
        the link did not lose), when known: then it alone decides whether the link was
        full. Only without it does a rising delay gradient count as full, since a path
        whose delay changes for other reasons (a handover, a new route) would
        otherwise read as full and never be offered more. Returns False (and ignores
        the report) for a non-positive interval or a negative byte count.
        """
        if interval_ns <= 0 or delivered_bytes < 0 or (sent_bytes is not None and sent_bytes < 0):
            return False
        rate = delivered_bytes * 8 * _NS_PER_S / interval_ns
        self.delivery_rate_bps = rate
        self.reports += 1
        self._last_report_ns = now_ns
        current = self._max.value(now_ns)
        gradient = self.delay_gradient(now_ns)
        if sent_bytes is not None:
            # Over a few reports: one packet more or less in a report's interval is
            # timing, not a queue (at 1 Mbit/s a packet is a tenth of an interval).
            self._balance.append((sent_bytes, delivered_bytes))
            sent_sum = sum(sent for sent, _ in self._balance)
            delivered_sum = sum(delivered for _, delivered in self._balance)
            saturated = (
                sent_sum >= delivered_sum * (1 + self._saturation_margin)
                and sent_sum - delivered_sum >= _MIN_DEFICIT_BYTES
            )
        else:
            saturated = gradient is not None and gradient > self._gradient_threshold
        self._max.update(rate, now_ns)
        self._recent_max.update(rate, now_ns)
        if saturated:
            self._last_saturated_ns = now_ns
        if current is None:
            return True
        floor = current * (1 - self._step_down_fraction)
        if saturated and rate < floor:
            self._saturated_run.append(rate)
            if len(self._saturated_run) == self._saturated_run.maxlen:
                self._max.reset()
                self._max.update(max(self._saturated_run), now_ns)
                self._saturated_run.clear()
        elif rate >= floor:
            self._saturated_run.clear()
        return True

    # -- delay-gradient fallback ---------------------------------------------------------
    def on_sent(self, size_bytes: int, now_ns: int) -> None:
        """``size_bytes`` left on this link (feeds the send rate of the fallback)."""
        if size_bytes <= 0:
            return
        self._sent_cumulative += size_bytes
        history = self._sent_history
        if history and history[-1][0] == now_ns:
            history[-1] = (now_ns, self._sent_cumulative)
        else:
            history.append((now_ns, self._sent_cumulative))
        while len(history) > 1 and (
            history[1][0] < now_ns - _SENT_HISTORY_NS or len(history) > _MAX_SENDS
        ):
            history.popleft()
        if len(self._sends) >= _MAX_SENDS:
            self._sends_bytes -= self._sends.popleft()[1]
        self._sends.append((now_ns, size_bytes))
        self._sends_bytes += size_bytes
        self._prune(now_ns)

    def sent_between(self, start_ns: int, end_ns: int) -> int | None:
        """Bytes sent in (``start_ns``, ``end_ns``]; None when history does not reach back."""
        history = self._sent_history
        if not history or start_ns < history[0][0] or end_ns < start_ns:
            return None
        return self._sent_until(end_ns) - self._sent_until(start_ns)

    def _sent_until(self, at_ns: int) -> int:
        history = self._sent_history
        index = bisect.bisect_right(history, at_ns, key=lambda entry: entry[0]) - 1
        return history[index][1] if index >= 0 else 0

    def on_delay_sample(self, delay_ms: float, now_ns: int) -> bool:
        """A one-way delay or RTT measurement; only its trend is used."""
        if not _finite_non_negative(delay_ms):
            return False
        self._delays.append((now_ns, delay_ms))
        self._prune(now_ns)
        gradient = self.delay_gradient(now_ns)
        send_rate = self.send_rate_bps(now_ns)
        if gradient is not None and send_rate is not None and gradient <= self._gradient_threshold:
            self._fallback_floor.update(send_rate, now_ns)
        return True

    def _prune(self, now_ns: int) -> None:
        horizon = now_ns - self._gradient_window_ns
        while self._sends and self._sends[0][0] < horizon:
            self._sends_bytes -= self._sends.popleft()[1]
        while self._delays and self._delays[0][0] < horizon:
            self._delays.popleft()

    def send_rate_bps(self, now_ns: int) -> float | None:
        """Send rate over the gradient window; None with fewer than two sends."""
        self._prune(now_ns)
        if len(self._sends) < 2:
            return None
        span_ns = self._sends[-1][0] - self._sends[0][0]
        if span_ns <= 0:
            return None
        # The first send opens the interval; the bytes after it flowed during the span.
        carried = self._sends_bytes - self._sends[0][1]
        return carried * 8 * _NS_PER_S / span_ns

    def delay_gradient(self, now_ns: int) -> float | None:
        """Least-squares slope of delay over time (ms per ms) in the gradient window.

        None until the samples span at least half the window.
        """
        self._prune(now_ns)
        if len(self._delays) < 3:
            return None
        t0 = self._delays[0][0]
        if self._delays[-1][0] - t0 < self._gradient_window_ns // 2:
            return None
        xs = [(t - t0) / _NS_PER_MS for t, _ in self._delays]
        ys = [d for _, d in self._delays]
        mean_x = sum(xs) / len(xs)
        mean_y = sum(ys) / len(ys)
        var_x = sum((x - mean_x) ** 2 for x in xs)
        if var_x <= 0:
            return None
        cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
        return cov / var_x

    def _fallback_capacity_bps(self, now_ns: int) -> float | None:
        gradient = self.delay_gradient(now_ns)
        send_rate = self.send_rate_bps(now_ns)
        if gradient is not None and send_rate is not None and gradient > self._gradient_threshold:
            return send_rate / (1.0 + gradient)
        return self._fallback_floor.value(now_ns)

    def capacity_bps(self, now_ns: int) -> float | None:
        """Capacity estimate: report-based when reports are recent, else the fallback."""
        dispersion = self.dispersion_bps(now_ns)
        if dispersion is not None:
            return max(dispersion, self._recent_max.value(now_ns) or 0.0)
        reported = self._max.value(now_ns)
        if reported is not None:
            if self.saturated_recently(now_ns):
                return reported * (1.0 - self._drain)
            return reported * (1.0 + self._probe_gain)
        return self._fallback_capacity_bps(now_ns)

    def measured(self, now_ns: int) -> bool:
        """Is the estimate a measurement (a full link, or packet pairs), not a bound?"""
        return self.saturated_recently(now_ns) or self.dispersion_bps(now_ns) is not None

    def saturated_recently(self, now_ns: int) -> bool:
        """Did a report within the window show the link full (so the max is its capacity)?"""
        return (
            self._last_saturated_ns is not None
            and now_ns - self._last_saturated_ns <= self._window_ns
        )


class FreshnessTracker:
    """When feedback about the link last arrived."""

    def __init__(self) -> None:
        self.last_feedback_ns: int | None = None

    def on_feedback(self, now_ns: int) -> None:
        """Any feedback (report, echo, NACK) arrived at ``now_ns``."""
        if self.last_feedback_ns is None or now_ns > self.last_feedback_ns:
            self.last_feedback_ns = now_ns

    def age_ms(self, now_ns: int) -> float | None:
        """Age of the newest feedback; None when none ever arrived."""
        if self.last_feedback_ns is None:
            return None
        return max(0, now_ns - self.last_feedback_ns) / _NS_PER_MS


class LinkEstimator:
    """Every estimator of one link, and the :class:`LinkMetrics` snapshot they make.

    The sender feeds sends, NACK attributions, echo RTTs and receive reports; the
    receiver feeds packet arrivals (for jitter). Jitter reported by the peer (RTCP
    report blocks) replaces the local estimate when given.
    """

    def __init__(
        self,
        *,
        clock_rate_hz: int = 90_000,
        min_rtt_window_ms: int = 10_000,
        loss_window_ms: int = 1000,
        capacity_window_ms: int = 5000,
    ) -> None:
        self.rtt = RttEstimator(min_window_ms=min_rtt_window_ms)
        self.loss = LossEstimator(window_ms=loss_window_ms)
        self.jitter = JitterEstimator(clock_rate_hz=clock_rate_hz)
        self.capacity = CapacityEstimator(window_ms=capacity_window_ms)
        self.freshness = FreshnessTracker()
        self._reported_jitter_ms: float | None = None
        self.sent_bytes_total = 0
        self._lost_at_report = 0

    def on_sent(self, size_bytes: int, now_ns: int) -> None:
        """One packet of ``size_bytes`` left on this link."""
        if size_bytes <= 0:
            return
        self.sent_bytes_total += size_bytes
        self.loss.on_sent(1, now_ns)
        self.capacity.on_sent(size_bytes, now_ns)

    def on_rtt_sample(self, rtt_ms: float, now_ns: int) -> bool:
        """An echo response (or other exchange) measured ``rtt_ms``."""
        if not self.rtt.on_sample(rtt_ms, now_ns):
            return False
        self.capacity.on_delay_sample(rtt_ms, now_ns)
        self.freshness.on_feedback(now_ns)
        return True

    def on_lost(self, seq: int, now_ns: int) -> bool:
        """A NACKed ``seq`` was attributed to this link."""
        self.freshness.on_feedback(now_ns)
        return self.loss.on_lost(seq, now_ns)

    def on_packet_arrival(self, rtp_timestamp: int, arrival_ns: int) -> None:
        """Receiver side: a packet arrived on this link."""
        self.jitter.on_packet(rtp_timestamp, arrival_ns)

    def on_reported_jitter(self, jitter_ms: float, now_ns: int) -> bool:
        """The peer reported this link's interarrival jitter."""
        if not _finite_non_negative(jitter_ms):
            return False
        self._reported_jitter_ms = jitter_ms
        self.freshness.on_feedback(now_ns)
        return True

    def on_receive_report(
        self,
        delivered_bytes: int,
        interval_ns: int,
        now_ns: int,
        *,
        sent_bytes: int | None = None,
        dispersion_bps: float | None = None,
    ) -> bool:
        """A per-link receive report: bytes the peer got during ``interval_ns``.

        Without an explicit ``sent_bytes``, what was sent into the same interval comes
        from the send history once the RTT is known: the traffic the report counts
        left one RTT before the report arrived. Of that, the packets the peer reported
        lost since the previous report (attributed loss) were never going to arrive,
        so a lossy link is not mistaken for a full one. ``dispersion_bps`` is the
        bottleneck rate the peer measured by packet pairs during the interval, when it
        measured one.
        """
        lost = max(0, self.loss.net_lost_total - self._lost_at_report)
        self._lost_at_report = self.loss.net_lost_total
        if sent_bytes is None and self.rtt.srtt_ms is not None and interval_ns > 0:
            end_ns = now_ns - int(self.rtt.srtt_ms * _NS_PER_MS)
            sent = self.capacity.sent_between(end_ns - interval_ns, end_ns)
            if sent is not None:
                # NACKs for what the link lost come back about when this report does.
                mean_size = self.sent_bytes_total / max(1, self.loss.sent_total)
                sent_bytes = max(0, sent - int(lost * mean_size))
        if not self.capacity.on_receive_report(
            delivered_bytes, interval_ns, now_ns, sent_bytes=sent_bytes
        ):
            return False
        if dispersion_bps is not None:
            self.capacity.on_dispersion(dispersion_bps, now_ns)
        self.freshness.on_feedback(now_ns)
        return True

    def on_feedback(self, now_ns: int) -> None:
        """Any other feedback from the peer about this link (keeps it fresh)."""
        self.freshness.on_feedback(now_ns)

    def loss_ratio(self, now_ns: int) -> float:
        """The link's attributed loss: the window's charges over the packets they are about.

        A NACK comes back about one RTT after the packet it asks for left, so the
        charges of the last window are about what was sent one SRTT earlier; over the
        sends of the same window, a link the scheduler stopped using would read 1.0 for
        a window while the NACKs for its last packets come in (and, weighted down to
        nothing for it, get no traffic to prove otherwise). The larger of the two
        send counts is the denominator, so neither a link just started nor one just
        stopped reads more loss than it had. Sends come from the byte history; packet
        sizes in a stream barely vary.
        """
        loss = self.loss
        sent_earlier: float | None = None
        srtt = self.rtt.srtt_ms
        if srtt is not None and loss.sent_total:
            end_ns = now_ns - int(srtt * _NS_PER_MS)
            earlier = self.capacity.sent_between(end_ns - loss.window_ns, end_ns)
            if earlier is not None:
                sent_earlier = earlier / (self.sent_bytes_total / loss.sent_total)
        return loss.ratio(now_ns, sent_earlier=sent_earlier)

    def snapshot(self, now_ns: int) -> LinkMetrics:
        """What the estimators believe about the link at ``now_ns``."""
        jitter = (
            self._reported_jitter_ms
            if self._reported_jitter_ms is not None
            else self.jitter.jitter_ms
        )
        return LinkMetrics(
            rtt_ms=self.rtt.srtt_ms,
            min_rtt_ms=self.rtt.min_rtt_ms(now_ns),
            loss=self.loss_ratio(now_ns),
            jitter_ms=jitter,
            capacity_bps=self.capacity.capacity_bps(now_ns),
            capacity_measured=self.capacity.measured(now_ns),
            delivery_rate_bps=self.capacity.delivery_rate_bps,
            feedback_age_ms=self.freshness.age_ms(now_ns),
        )
