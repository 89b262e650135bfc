"""The ``dwrr`` options table, validated by its own model (unknown keys are errors)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ristbond_core.contracts import LinkState


def _factor(default: float, phase: str) -> float:
    return Field(
        default,
        ge=0.0,
        le=1.0,
        description=f"weight multiplier for a link in the {phase} phase",
    )


class PhaseFactors(BaseModel):
    """Weight multiplier per lifecycle state, applied on top of the admission ramp.

    The lifecycle already ramps a probing or warming link through ``admission``;
    these factors say how much to trust each phase beyond that. States in which the
    lifecycle normally marks a link unusable only matter when no link is usable.
    """

    model_config = ConfigDict(extra="forbid")

    init: float = _factor(1.0, "init")
    probe: float = _factor(1.0, "probe")
    warm: float = _factor(1.0, "warm")
    live: float = _factor(1.0, "live")
    degrade: float = _factor(0.5, "degrade")
    cooldown: float = _factor(1.0, "cooldown")
    reset: float = _factor(1.0, "reset")

    def of(self, state: LinkState) -> float:
        """The factor for ``state``."""
        factor: float = getattr(self, state.value)
        return factor


class DwrrOptions(BaseModel):
    """Options of the ``dwrr`` scheduler (``[scheduler.options]``)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("capacity_cap_ratio", "queue_half_ms", "steering_half_loss",
                     mode="before")
    @classmethod
    def _false_turns_off(cls, value: Any) -> Any:
        """``false`` turns the rule off: TOML has no null, and these are on by default."""
        return None if value is False else value

    quantum_bytes: int = Field(
        1500,
        ge=188,
        le=1_000_000,
        description=(
            "byte credit the heaviest link earns per round; lighter links earn in "
            "proportion to their weight. Larger values mean longer runs on one link"
        ),
    )
    capacity_floor_bps: float = Field(
        64_000.0,
        ge=0.0,
        allow_inf_nan=False,
        description=(
            "capacity assumed for a link whose estimate is lower, so a link starved by a "
            "bad estimate keeps enough traffic to be measured again"
        ),
    )
    loss_exponent: float = Field(
        4.0,
        ge=0.0,
        le=16.0,
        description="weight is scaled by (1 - loss) to this power; 4 punishes loss hard",
    )
    capacity_cap_ratio: float | None = Field(
        4.0,
        ge=1.0,
        le=1000.0,
        allow_inf_nan=False,
        description=(
            "a link's capacity counts in its weight up to this many times the stream's "
            "rate, so links that could each carry the stream share it instead of the "
            "largest estimate taking it all; false: capacity counts without limit"
        ),
    )
    queue_free_ms: float = Field(
        80.0,
        ge=0.0,
        le=10_000.0,
        allow_inf_nan=False,
        description=(
            "queueing delay (smoothed RTT above the link's minimum) a link may show "
            "before its weight is cut for it"
        ),
    )
    queue_half_ms: float | None = Field(
        150.0,
        gt=0.0,
        le=10_000.0,
        allow_inf_nan=False,
        description=(
            "a link's weight halves for every this much queueing delay beyond "
            "queue_free_ms; false: queueing delay does not count"
        ),
    )
    steering_half_loss: float | None = Field(
        0.014,
        gt=0.0,
        le=1.0,
        description=(
            "steer traffic off lossy links while the others have room: a link's "
            "preference halves for every this much loss (0.014: 5 % loss leaves 8 %); "
            "false: no steering, the weights alone"
        ),
    )
    headroom: float = Field(
        0.55,
        gt=0.0,
        le=1.0,
        description="steering fills a link up to this fraction of its measured capacity",
    )
    lower_bound_growth: float = Field(
        1.25,
        ge=1.0,
        le=4.0,
        description=(
            "steering may give a link whose capacity is only known as a lower bound "
            "(it carried all it got) this many times that bound"
        ),
    )
    drop_threshold: float = Field(
        0.3,
        gt=0.0,
        lt=1.0,
        description=(
            "a capacity estimate this fraction below the previous one is a sudden drop "
            "and earns the link a penalty"
        ),
    )
    drop_penalty: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="weight multiplier right after a sudden drop (1 disables penalties)",
    )
    penalty_half_life_ms: float = Field(
        2000.0,
        gt=0.0,
        le=600_000.0,
        description="time in which half of the remaining penalty recovers",
    )
    phase_factors: PhaseFactors = Field(
        default_factory=PhaseFactors,
        description="weight multiplier per lifecycle state ([scheduler.options.phase_factors])",
    )
