"""Thresholds and timers of the link lifecycle, as the ``[lifecycle]`` config table.

Quality thresholds are relative to each link's own baseline (its windowed minimum
RTT, minimum jitter and normal loss), so a satellite link is judged against itself,
not against ethernet. Every field carries its unit in its name.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LifecycleConfig(BaseModel):
    """Promote/demote thresholds relative to each link's own baseline, plus timers."""

    model_config = ConfigDict(extra="forbid")

    # -- promotion: probe → warm → live ----------------------------------------------
    probe_duration_ms: int = Field(500, gt=0, description="minimum time in probe before warm")
    fast_probe_duration_ms: int = Field(
        150, gt=0, description="probe time after a re-attach or an address change"
    )
    probe_min_feedback_count: int = Field(
        2, ge=1, description="feedback reports needed before probe may end"
    )
    warm_duration_ms: int = Field(2000, gt=0, description="minimum time in warm before live")
    warm_delivered_bytes: int = Field(
        100_000, gt=0, description="bytes the peer must confirm on the link to finish warm"
    )
    warm_min_feedback_count: int = Field(
        10, ge=1, description="clean feedback reports needed to finish warm"
    )
    probe_admission_share: float = Field(
        0.05, gt=0.0, le=1.0, description="admission (0..1) while probing"
    )
    ramp_start_share: float = Field(
        0.1, gt=0.0, le=1.0, description="admission (0..1) on entering warm; grows with delivery"
    )

    # -- demotion: live → degrade → cooldown ---------------------------------------------
    degrade_rtt_factor: float = Field(
        2.0, gt=1.0, description="degraded when RTT > factor × baseline min RTT + slack"
    )
    degrade_rtt_slack_ms: float = Field(
        20.0, ge=0.0, description="absolute RTT slack added to the factor threshold"
    )
    degrade_loss_excess_fraction: float = Field(
        0.10, gt=0.0, lt=1.0, description="degraded when attributed loss > baseline loss + this"
    )
    degrade_jitter_factor: float = Field(
        3.0, gt=1.0, description="degraded when jitter > factor × baseline jitter + slack"
    )
    degrade_jitter_slack_ms: float = Field(
        10.0, ge=0.0, description="absolute jitter slack added to the factor threshold"
    )
    degrade_rate_cv_ratio: float = Field(
        0.6,
        gt=0.0,
        description="degraded (live/degrade only) when delivery-rate std/mean exceeds this",
    )
    rate_variance_window_samples: int = Field(
        10, ge=3, description="delivery-rate samples the variance test looks at"
    )
    degrade_hold_ms: int = Field(
        500, ge=0, description="quality must stay bad this long before live → degrade"
    )
    recover_hold_ms: int = Field(
        3000, ge=0, description="quality must stay clean this long before degrade → live"
    )
    recover_margin_ratio: float = Field(
        0.8,
        gt=0.0,
        lt=1.0,
        description="clean means every signal below this fraction of its degrade threshold",
    )
    degrade_max_ms: int = Field(
        10_000, gt=0, description="quality bad this long without a break → cooldown"
    )
    degrade_admission_share: float = Field(
        0.5, gt=0.0, le=1.0, description="admission (0..1) while degraded"
    )

    # -- freshness and rest ---------------------------------------------------------------
    stale_after_ms: int = Field(1500, gt=0, description="no feedback this long → reset")
    blackhole_after_ms: int = Field(
        1000,
        gt=0,
        description="bytes sent and no delivery-confirming feedback this long → cooldown",
    )
    cooldown_ms: int = Field(
        3000, gt=0, description="rest after a demotion; doubles per repeated demotion"
    )
    cooldown_max_ms: int = Field(30_000, gt=0, description="cap of the doubling rest time")
    stable_live_ms: int = Field(
        30_000, gt=0, description="a live stint this long forgives earlier demotions"
    )
    baseline_window_ms: int = Field(60_000, gt=0, description="window of the baseline min RTT")

    @model_validator(mode="after")
    def _check_orderings(self) -> LifecycleConfig:
        if self.fast_probe_duration_ms > self.probe_duration_ms:
            raise ValueError("fast_probe_duration_ms must not exceed probe_duration_ms")
        if self.cooldown_max_ms < self.cooldown_ms:
            raise ValueError("cooldown_max_ms must be at least cooldown_ms")
        if self.probe_admission_share > self.ramp_start_share:
            raise ValueError("probe_admission_share must not exceed ramp_start_share")
        return self
