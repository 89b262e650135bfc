"""The link lifecycle: a sans-IO state machine written as a (state, input) → state table.

One :class:`LinkLifecycle` per link. The sender engine feeds it what happens on the
link — sends, feedback snapshots, attach/detach/address changes, timer expiries — with
an explicit ``now_ns``; it answers ``state``, ``usable`` and ``admission`` (what a
scheduler reads from a :class:`~ristbond_core.contracts.LinkView`), the next deadline,
and :class:`~ristbond_core.events.LinkStateChanged` events.

Inputs are named conditions. Three are local commands from the runtime (``attached``,
``detached``, ``address_changed``); the rest are derived here from feedback and time.
A pair missing from :data:`TRANSITION_TABLE` is handled like this:

* local misuse — attaching an attached link, detaching a detached one — raises
  :class:`LifecycleUsageError` at once;
* anything the network drives (feedback for a detached link, an address change before
  attach, garbage measurements) is ignored, counted in ``ignored_count`` and described
  in ``last_ignored_reason``. Remote input never raises.

``docs/lifecycle.md`` embeds :func:`render_transition_table` and
:func:`render_config_table`; a test keeps them identical.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ristbond_core.contracts import LinkMetrics, LinkState, LinkView
from ristbond_core.engine.lifecycle_config import LifecycleConfig
from ristbond_core.engine.windowed import WindowedExtremum
from ristbond_core.errors import RistbondError
from ristbond_core.events import LinkStateChanged

_NS_PER_MS = 1_000_000
# Slow on purpose: the baseline is what is normal for this link, learnt only from samples
# that were not judged bad, so a sudden deterioration is never absorbed into it.
_BASELINE_EWMA_GAIN = 0.02


class LinkInput(str, enum.Enum):
    """Named conditions that drive the lifecycle table."""

    ATTACHED = "attached"
    DETACHED = "detached"
    ADDRESS_CHANGED = "address_changed"
    FEEDBACK_OK = "feedback_ok"
    PROBE_DONE = "probe_done"
    WARM_DONE = "warm_done"
    DEGRADED = "degraded"
    RECOVERED = "recovered"
    STILL_DEGRADED = "still_degraded"
    BLACKHOLE = "blackhole"
    STALE = "stale"
    COOLDOWN_DONE = "cooldown_done"


LOCAL_INPUTS: frozenset[LinkInput] = frozenset(
    {LinkInput.ATTACHED, LinkInput.DETACHED, LinkInput.ADDRESS_CHANGED}
)
"""Inputs commanded by the local runtime; every other input is derived from the network."""

USABLE_STATES: frozenset[LinkState] = frozenset(
    {LinkState.PROBE, LinkState.WARM, LinkState.LIVE, LinkState.DEGRADE}
)
"""States in which a scheduler may put traffic on the link (scaled by ``admission``)."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table: in ``state``, ``input`` leads to ``next``; ``when`` is the guard."""

    state: LinkState
    input: LinkInput
    next: LinkState
    when: str


_S = LinkState
_I = LinkInput

_DETACH = "the runtime detached the link (interface down, socket closed); baseline forgotten"
_ADDRESS = "local or peer address changed: baseline forgotten, fast probe, ramp from the start"
_STALE = "no feedback at all for `stale_after_ms`"
_BLACKHOLE = (
    "bytes sent and no delivery-confirming feedback for `blackhole_after_ms` (or two "
    "SRTTs, if longer) since the first unconfirmed send"
)
_STILL = (
    "quality bad without a break for `degrade_max_ms` on loss, jitter or delivery-rate "
    "variation (a long RTT alone never rests a link), while another link is live"
)

TRANSITIONS: tuple[Transition, ...] = (
    Transition(_S.INIT, _I.ATTACHED, _S.PROBE, "the runtime attached the link"),
    Transition(
        _S.PROBE,
        _I.PROBE_DONE,
        _S.WARM,
        "≥ `probe_duration_ms` (fast probe: `fast_probe_duration_ms`) in probe, "
        "≥ `probe_min_feedback_count` reports, quality not bad",
    ),
    Transition(_S.PROBE, _I.STILL_DEGRADED, _S.COOLDOWN, _STILL),
    Transition(_S.PROBE, _I.BLACKHOLE, _S.COOLDOWN, _BLACKHOLE),
    Transition(_S.PROBE, _I.STALE, _S.RESET, _STALE),
    Transition(_S.PROBE, _I.ADDRESS_CHANGED, _S.PROBE, _ADDRESS),
    Transition(_S.PROBE, _I.DETACHED, _S.INIT, _DETACH),
    Transition(
        _S.WARM,
        _I.WARM_DONE,
        _S.LIVE,
        "≥ `warm_duration_ms` in warm, the peer confirmed ≥ `warm_delivered_bytes` "
        "in ≥ `warm_min_feedback_count` clean reports, quality not bad",
    ),
    Transition(_S.WARM, _I.STILL_DEGRADED, _S.COOLDOWN, _STILL),
    Transition(_S.WARM, _I.BLACKHOLE, _S.COOLDOWN, _BLACKHOLE),
    Transition(_S.WARM, _I.STALE, _S.RESET, _STALE),
    Transition(_S.WARM, _I.ADDRESS_CHANGED, _S.PROBE, _ADDRESS),
    Transition(_S.WARM, _I.DETACHED, _S.INIT, _DETACH),
    Transition(
        _S.LIVE,
        _I.DEGRADED,
        _S.DEGRADE,
        "quality bad (RTT, loss, jitter or delivery-rate variance over its threshold) "
        "for `degrade_hold_ms`",
    ),
    Transition(_S.LIVE, _I.BLACKHOLE, _S.COOLDOWN, _BLACKHOLE),
    Transition(_S.LIVE, _I.STALE, _S.RESET, _STALE),
    Transition(_S.LIVE, _I.ADDRESS_CHANGED, _S.PROBE, _ADDRESS),
    Transition(_S.LIVE, _I.DETACHED, _S.INIT, _DETACH),
    Transition(
        _S.DEGRADE,
        _I.RECOVERED,
        _S.LIVE,
        "every signal below `recover_margin_ratio` × its threshold for `recover_hold_ms`",
    ),
    Transition(_S.DEGRADE, _I.STILL_DEGRADED, _S.COOLDOWN, _STILL),
    Transition(_S.DEGRADE, _I.BLACKHOLE, _S.COOLDOWN, _BLACKHOLE),
    Transition(_S.DEGRADE, _I.STALE, _S.RESET, _STALE),
    Transition(_S.DEGRADE, _I.ADDRESS_CHANGED, _S.PROBE, _ADDRESS),
    Transition(_S.DEGRADE, _I.DETACHED, _S.INIT, _DETACH),
    Transition(
        _S.COOLDOWN,
        _I.COOLDOWN_DONE,
        _S.PROBE,
        "the rest time elapsed (`cooldown_ms`, doubled per repeated demotion, "
        "≤ `cooldown_max_ms`) and feedback is fresh",
    ),
    Transition(_S.COOLDOWN, _I.STALE, _S.RESET, _STALE),
    Transition(
        _S.COOLDOWN,
        _I.ADDRESS_CHANGED,
        _S.COOLDOWN,
        "address changed: baseline forgotten, the next probe is fast; the rest continues",
    ),
    Transition(_S.COOLDOWN, _I.DETACHED, _S.INIT, _DETACH),
    Transition(
        _S.RESET,
        _I.FEEDBACK_OK,
        _S.PROBE,
        "feedback arrived again and the rest time of the last demotion elapsed",
    ),
    Transition(
        _S.RESET,
        _I.ADDRESS_CHANGED,
        _S.RESET,
        "address changed: baseline forgotten, the next probe is fast",
    ),
    Transition(_S.RESET, _I.DETACHED, _S.INIT, _DETACH),
)
"""Every legal (state, input) pair, in documentation order."""

TRANSITION_TABLE: Mapping[tuple[LinkState, LinkInput], Transition] = MappingProxyType(
    {(row.state, row.input): row for row in TRANSITIONS}
)
"""``(state, input) → Transition``; a pair not in here is illegal (see module docstring)."""

CONDITION_PRIORITY: tuple[LinkInput, ...] = (
    LinkInput.STALE,
    LinkInput.BLACKHOLE,
    LinkInput.STILL_DEGRADED,
    LinkInput.DEGRADED,
    LinkInput.RECOVERED,
    LinkInput.PROBE_DONE,
    LinkInput.WARM_DONE,
    LinkInput.COOLDOWN_DONE,
    LinkInput.FEEDBACK_OK,
)
"""Order in which derived conditions are checked when several hold at one instant."""

_ROWS_BY_STATE: Mapping[LinkState, frozenset[LinkInput]] = MappingProxyType(
    {
        state: frozenset(row.input for row in TRANSITIONS if row.state is state)
        for state in LinkState
    }
)


class LifecycleUsageError(RistbondError):
    """The local runtime drove the lifecycle in a way the table forbids."""

    def __init__(self, link_id: str, state: LinkState, link_input: LinkInput) -> None:
        self.link_id = link_id
        self.state = state
        self.input = link_input
        super().__init__(
            f"link {link_id!r}: input {link_input.value!r} is not allowed in state {state.value!r}"
        )


def render_transition_table() -> str:
    """The transition table as a Markdown table (embedded in ``docs/lifecycle.md``)."""
    lines = ["| from | input | to | when |", "|---|---|---|---|"]
    for row in TRANSITIONS:
        when = row.when.replace("|", "\\|")
        lines.append(f"| `{row.state.value}` | `{row.input.value}` | `{row.next.value}` | {when} |")
    return "\n".join(lines) + "\n"


def render_config_table() -> str:
    """The ``[lifecycle]`` config keys, defaults and meanings as a Markdown table."""
    lines = ["| key | default | meaning |", "|---|---|---|"]
    for name, field in LifecycleConfig.model_fields.items():
        lines.append(f"| `{name}` | `{field.default!r}` | {field.description} |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class LinkBaseline:
    """What is normal for this link; demotion thresholds are relative to it.

    ``min_rtt_ms`` is the windowed minimum over ``baseline_window_ms``; ``jitter_ms``
    (all attached states) and ``loss`` (live only) are slow averages of samples that
    were not judged bad.
    """

    min_rtt_ms: float | None
    jitter_ms: float | None
    loss: float


class LinkLifecycle:
    """Lifecycle of one link; see the module docstring and ``docs/lifecycle.md``."""

    def __init__(self, link_id: str, config: LifecycleConfig | None = None) -> None:
        self.link_id = link_id
        self.config = config if config is not None else LifecycleConfig()
        cfg = self.config
        self._stale_ns = cfg.stale_after_ms * _NS_PER_MS
        self._blackhole_ns = cfg.blackhole_after_ms * _NS_PER_MS
        # Two of the link's latest SRTTs: no confirmation can come sooner than one round
        # trip and a report, so on a link whose queue holds 700 ms a fixed second would
        # call packets still on their way a blackhole.
        self._two_rtts_ns = 0
        self._state = LinkState.INIT
        self._now: int | None = None
        self._timer_ns: int | None = None  # see ``next_deadline``
        self._events: deque[LinkStateChanged] = deque()
        self.ignored_count = 0
        self.last_ignored_reason: str | None = None
        # baseline
        self._baseline_rtt = WindowedExtremum(cfg.baseline_window_ms * _NS_PER_MS)
        self._baseline_jitter: float | None = None
        self._baseline_jitter_samples = 0
        self._baseline_loss = 0.0
        self._baseline_loss_samples = 0
        # timers and counters; (re)initialised on attach and on state entry
        self._entered_ns = 0
        self._stale_ref_ns = 0
        self._feedback_since_entry = False
        self._first_unconfirmed_send_ns: int | None = None
        self._unconfirmed_bytes = 0
        self._bad_since_ns: int | None = None
        # Since when a signal other than RTT has been bad without a break: only such a
        # spell rests a link (``still_degraded``; see ``_judge_quality``).
        self._costly_since_ns: int | None = None
        self._bad_reason = ""
        self._costly_reason = ""
        self._good_since_ns: int | None = None
        self._rate_samples: deque[float] = deque(maxlen=cfg.rate_variance_window_samples)
        # Bytes offered since the previous feedback and when that was: delivery is judged
        # against what was sent, so a scheduler shifting load or input stopping is not
        # mistaken for an unstable link.
        self._sent_since_feedback = 0
        self._last_feedback_ns: int | None = None
        self._probe_reports = 0
        self._probe_duration_ns = cfg.probe_duration_ms * _NS_PER_MS
        self._fast_probe_next = False
        self._warm_delivered_bytes = 0
        self._warm_clean_reports = 0
        self._live_since_ns: int | None = None
        self._longest_live_stint_ns = 0
        self.demotions = 0
        self.rest_until_ns: int | None = None
        self.sent_bytes_total = 0
        self._another_live = True

    # -- what schedulers and stats read ---------------------------------------------------
    @property
    def state(self) -> LinkState:
        """Current lifecycle state."""
        return self._state

    @property
    def usable(self) -> bool:
        """May a scheduler put traffic on this link (scaled by ``admission``)."""
        return self._state in USABLE_STATES

    @property
    def admission(self) -> float:
        """Share (0..1) of its normal weight the link may take now.

        Probe gets a fixed small share; warm grows from ``ramp_start_share`` to 1 only as
        the peer confirms delivered bytes and clean reports; live is 1; degrade reduced.
        """
        cfg = self.config
        if self._state is LinkState.PROBE:
            return cfg.probe_admission_share
        if self._state is LinkState.WARM:
            return cfg.ramp_start_share + (1.0 - cfg.ramp_start_share) * self.warm_progress
        if self._state is LinkState.LIVE:
            return 1.0
        if self._state is LinkState.DEGRADE:
            return cfg.degrade_admission_share
        return 0.0

    @property
    def warm_progress(self) -> float:
        """Fraction (0..1) of the delivery warm requires that the peer has confirmed."""
        cfg = self.config
        by_bytes = self._warm_delivered_bytes / cfg.warm_delivered_bytes
        by_reports = self._warm_clean_reports / cfg.warm_min_feedback_count
        return min(1.0, by_bytes, by_reports)

    @property
    def baseline(self) -> LinkBaseline:
        """The link's own normal: windowed min RTT, average jitter, average loss while live."""
        now = self._now if self._now is not None else 0
        return LinkBaseline(
            min_rtt_ms=self._baseline_rtt.value(now),
            jitter_ms=self._baseline_jitter,
            loss=self._baseline_loss,
        )

    def view(self, metrics: LinkMetrics | None = None, *, weight: float = 1.0) -> LinkView:
        """A scheduler's view of this link with the given ``metrics``."""
        return LinkView(
            link_id=self.link_id,
            state=self._state,
            usable=self.usable,
            admission=self.admission,
            weight=weight,
            metrics=metrics if metrics is not None else LinkMetrics(),
        )

    # -- events ------------------------------------------------------------------------------
    def next_event(self) -> LinkStateChanged | None:
        """The oldest undelivered state change, or None."""
        return self._events.popleft() if self._events else None

    def drain_events(self) -> list[LinkStateChanged]:
        """Every undelivered state change, oldest first."""
        events = list(self._events)
        self._events.clear()
        return events

    # -- local commands ----------------------------------------------------------------------
    def on_attach(self, now_ns: int) -> None:
        """The runtime attached the link (socket bound, interface up)."""
        now = self._advance(now_ns)
        if self._state is not LinkState.INIT:
            raise LifecycleUsageError(self.link_id, self._state, LinkInput.ATTACHED)
        self._stale_ref_ns = now
        self._fire(LinkInput.ATTACHED, now, "link attached")
        self._evaluate(now)

    def on_detach(self, now_ns: int) -> None:
        """The runtime detached the link."""
        now = self._advance(now_ns)
        if self._state is LinkState.INIT:
            raise LifecycleUsageError(self.link_id, self._state, LinkInput.DETACHED)
        self._fire(LinkInput.DETACHED, now, "link detached")
        self._timer_ns = self._earliest_timer()

    def on_address_change(self, now_ns: int) -> None:
        """The link's local or remote address changed (new path: re-learn it)."""
        now = self._advance(now_ns)
        # Not a row in init: ignored there (the new address is simply used at attach).
        self._fire(LinkInput.ADDRESS_CHANGED, now, "address changed")
        self._evaluate(now)

    # -- observations --------------------------------------------------------------------------
    def on_sent(self, size_bytes: int, now_ns: int) -> None:
        """``size_bytes`` left on this link (starts the blackhole clock)."""
        now = self._advance(now_ns)
        if size_bytes <= 0:
            return
        self.sent_bytes_total += size_bytes
        if self._state is LinkState.INIT:
            return
        arms_blackhole = self._first_unconfirmed_send_ns is None
        if arms_blackhole:
            self._first_unconfirmed_send_ns = now
        self._unconfirmed_bytes += size_bytes
        self._sent_since_feedback += size_bytes
        # Byte counts are in no condition: only the blackhole clock starting, or a timer
        # already due, can make something fire (this runs for every packet sent).
        if arms_blackhole or (self._timer_ns is not None and now >= self._timer_ns):
            self._evaluate(now)

    def on_feedback(self, metrics: LinkMetrics, now_ns: int, *, delivered_bytes: int) -> None:
        """Feedback about the link arrived: a metrics snapshot and confirmed delivery.

        ``delivered_bytes`` is what the peer confirmed receiving on this link since the
        previous feedback: from a per-link receive report, or — with a peer that sends
        none — the bytes sent at least one SRTT earlier and not NACKed. Zero is fine
        (echo-only feedback); it keeps the link fresh but earns no admission and does
        not stop the blackhole clock.
        """
        now = self._advance(now_ns)
        if self._state is LinkState.INIT:
            self._ignore("feedback on a detached link")
            return
        if delivered_bytes < 0 or not _metrics_valid(metrics):
            self._ignore("feedback with invalid values")
            return
        self._stale_ref_ns = now
        self._feedback_since_entry = True
        if metrics.rtt_ms is not None:
            self._two_rtts_ns = int(2 * metrics.rtt_ms * _NS_PER_MS)
        if delivered_bytes > 0:
            self._first_unconfirmed_send_ns = None
            self._unconfirmed_bytes = 0
        self._judge_quality(metrics, now)
        clean = self._bad_since_ns is None
        if self._state is LinkState.PROBE:
            self._probe_reports += 1
        elif self._state is LinkState.WARM and clean:
            self._warm_clean_reports += 1
            self._warm_delivered_bytes += delivered_bytes
        self._evaluate(now)

    # -- timers ----------------------------------------------------------------------------------
    def next_deadline(self) -> int | None:
        """When ``on_deadline`` must next be called (ns), or None if no timer is armed.

        Kept from the last evaluation: every input that can move a timer ends in one,
        so between inputs only time passes, and the earliest future deadline is the
        first instant a condition can start to hold.
        """
        return self._timer_ns

    def set_another_live(self, another_live: bool) -> None:
        """Whether some other link of the sender is live (the engine keeps this current).

        A link whose quality stays bad is rested (``still_degraded``) only while
        another link is live to carry the stream. When none is, resting it would put
        everything on links that are worse off (probing, warming, or as bad), so it
        stays in service, degraded; a link that stops delivering altogether
        (``blackhole``, ``stale``) is still taken out.
        """
        if another_live != self._another_live:
            self._another_live = another_live
            self._timer_ns = self._earliest_timer()

    def _earliest_timer(self) -> int | None:
        if self._now is None:
            return None
        deadlines = [
            deadline
            for link_input in _ROWS_BY_STATE[self._state]
            if (deadline := self._deadline_for(link_input)) is not None and deadline > self._now
        ]
        return min(deadlines) if deadlines else None

    def on_deadline(self, now_ns: int) -> None:
        """Time advanced to ``now_ns``; fire whatever timer conditions hold.

        Before the next timer nothing can fire, so the conditions are not evaluated.
        """
        now = self._advance(now_ns)
        if self._timer_ns is not None and now >= self._timer_ns:
            self._evaluate(now)

    # -- internals ------------------------------------------------------------------------------
    def _advance(self, now_ns: int) -> int:
        # A clock that steps backwards is held at the newest instant seen.
        if self._now is None or now_ns > self._now:
            self._now = now_ns
        return self._now

    def _ignore(self, reason: str) -> None:
        self.ignored_count += 1
        self.last_ignored_reason = reason

    def _fire(self, link_input: LinkInput, now: int, detail: str) -> None:
        row = TRANSITION_TABLE.get((self._state, link_input))
        if row is None:
            if link_input in (LinkInput.ATTACHED, LinkInput.DETACHED):
                raise LifecycleUsageError(self.link_id, self._state, link_input)
            self._ignore(f"{link_input.value} is not meaningful in {self._state.value}")
            return
        old = self._state
        self._on_exit(old, now)
        self._state = row.next
        self._on_enter(row, now)
        if row.next is not old:
            self._events.append(
                LinkStateChanged(
                    link_id=self.link_id,
                    old=old,
                    new=row.next,
                    reason=f"{link_input.value}: {detail}",
                    at_ns=now,
                )
            )

    def _on_exit(self, old: LinkState, now: int) -> None:
        if old is LinkState.LIVE and self._live_since_ns is not None:
            stint = now - self._live_since_ns
            self._longest_live_stint_ns = max(self._longest_live_stint_ns, stint)
            self._live_since_ns = None

    def _on_enter(self, row: Transition, now: int) -> None:
        cfg = self.config
        new = row.next
        if row.input in (LinkInput.ADDRESS_CHANGED, LinkInput.DETACHED):
            self._reset_baseline()
            self._fast_probe_next = True
        if new is row.state and new is not LinkState.PROBE:
            return  # address change while resting: only the baseline and probe flag change
        self._entered_ns = now
        self._feedback_since_entry = False
        self._rate_samples.clear()
        if new is LinkState.INIT:
            self._first_unconfirmed_send_ns = None
            self._unconfirmed_bytes = 0
            self._bad_since_ns = None
            self._costly_since_ns = None
            self._good_since_ns = None
            self.demotions = 0
            self.rest_until_ns = None
            self._longest_live_stint_ns = 0
        elif new is LinkState.PROBE:
            fast = self._fast_probe_next
            self._fast_probe_next = False
            duration_ms = cfg.fast_probe_duration_ms if fast else cfg.probe_duration_ms
            self._probe_duration_ns = duration_ms * _NS_PER_MS
            self._probe_reports = 0
            self._first_unconfirmed_send_ns = None
            self._unconfirmed_bytes = 0
            self._bad_since_ns = None
            self._costly_since_ns = None
            self._good_since_ns = None
            self._warm_delivered_bytes = 0
            self._warm_clean_reports = 0
        elif new is LinkState.WARM:
            self._warm_delivered_bytes = 0
            self._warm_clean_reports = 0
        elif new is LinkState.LIVE:
            self._live_since_ns = now
        elif new is LinkState.DEGRADE:
            self._good_since_ns = None
        elif new in (LinkState.COOLDOWN, LinkState.RESET):
            self._first_unconfirmed_send_ns = None
            self._unconfirmed_bytes = 0
            if row.state in USABLE_STATES:
                self._count_demotion(now)

    def _count_demotion(self, now: int) -> None:
        cfg = self.config
        if self._longest_live_stint_ns >= cfg.stable_live_ms * _NS_PER_MS:
            self.demotions = 0  # a long healthy stint forgives earlier trouble
        self._longest_live_stint_ns = 0
        self.demotions += 1
        rest_ms = min(cfg.cooldown_max_ms, cfg.cooldown_ms * 2 ** (self.demotions - 1))
        self.rest_until_ns = now + rest_ms * _NS_PER_MS

    def _reset_baseline(self) -> None:
        self._baseline_rtt.reset()
        self._baseline_jitter = None
        self._baseline_jitter_samples = 0
        self._baseline_loss = 0.0
        self._baseline_loss_samples = 0

    def _learn_baseline(self, metrics: LinkMetrics) -> None:
        """Fold a sample that was not bad into the jitter (and, when live, loss) baseline."""
        self._baseline_jitter_samples += 1
        gain = max(_BASELINE_EWMA_GAIN, 1.0 / self._baseline_jitter_samples)
        base = self._baseline_jitter if self._baseline_jitter is not None else metrics.jitter_ms
        self._baseline_jitter = base + gain * (metrics.jitter_ms - base)
        if self._state is LinkState.LIVE:
            self._baseline_loss_samples += 1
            gain = max(_BASELINE_EWMA_GAIN, 1.0 / self._baseline_loss_samples)
            self._baseline_loss += gain * (metrics.loss - self._baseline_loss)

    def _quality(self, metrics: LinkMetrics, now: int) -> tuple[float, str, float, str]:
        """Worst signal as a fraction of its degrade threshold (> 1 is bad) and why; then
        the same for the signals other than RTT."""
        cfg = self.config
        worst = 0.0
        why = ""
        rtt_ratio = 0.0
        rtt_why = ""
        base_rtt = self._baseline_rtt.value(now)
        if metrics.rtt_ms is not None and base_rtt is not None:
            limit = cfg.degrade_rtt_factor * base_rtt + cfg.degrade_rtt_slack_ms
            rtt_ratio = metrics.rtt_ms / limit if limit > 0 else 0.0
            rtt_why = f"rtt {metrics.rtt_ms:.1f} ms vs limit {limit:.1f} ms"
        loss_limit = self._baseline_loss + cfg.degrade_loss_excess_fraction
        ratio = metrics.loss / loss_limit
        if ratio > worst:
            worst, why = ratio, f"loss {metrics.loss:.3f} vs limit {loss_limit:.3f}"
        base_jitter = (
            self._baseline_jitter if self._baseline_jitter is not None else metrics.jitter_ms
        )
        jitter_limit = cfg.degrade_jitter_factor * base_jitter + cfg.degrade_jitter_slack_ms
        if jitter_limit > 0:
            ratio = metrics.jitter_ms / jitter_limit
            if ratio > worst:
                worst = ratio
                why = f"jitter {metrics.jitter_ms:.1f} ms vs limit {jitter_limit:.1f} ms"
        # Rate variance only once admission is steady: the warm ramp changes rate on purpose.
        offered_bps = self._offered_bps(now)
        if self._state in (LinkState.LIVE, LinkState.DEGRADE):
            if metrics.delivery_rate_bps is not None and offered_bps:
                # Delivered over offered: ~1 on a healthy link whatever the load.
                self._rate_samples.append(min(metrics.delivery_rate_bps / offered_bps, 2.0))
            cv = _coefficient_of_variation(self._rate_samples)
            if cv is not None and len(self._rate_samples) == self._rate_samples.maxlen:
                ratio = cv / cfg.degrade_rate_cv_ratio
                if ratio > worst:
                    worst, why = ratio, f"delivery-rate variation {cv:.2f} (std/mean)"
        costly, costly_why = worst, why
        if rtt_ratio > worst:
            worst, why = rtt_ratio, rtt_why
        return worst, why, costly, costly_why

    def _offered_bps(self, now: int) -> float | None:
        """Send rate since the previous feedback (consumed: the next call starts afresh)."""
        previous, self._last_feedback_ns = self._last_feedback_ns, now
        sent, self._sent_since_feedback = self._sent_since_feedback, 0
        if previous is None or now <= previous or sent <= 0:
            return None
        return sent * 8 * 1e9 / (now - previous)

    def _judge_quality(self, metrics: LinkMetrics, now: int) -> None:
        rtt = metrics.min_rtt_ms if metrics.min_rtt_ms is not None else metrics.rtt_ms
        if rtt is not None:
            self._baseline_rtt.update(rtt, now)
        worst, why, costly, costly_why = self._quality(metrics, now)
        if worst <= 1.0:
            self._learn_baseline(metrics)
        if worst > 1.0:
            if self._bad_since_ns is None:
                self._bad_since_ns = now
            # A long round trip alone degrades a link but never rests it: the link still
            # delivers, and the stream may need it (see ``set_another_live``).
            if costly <= 1.0:
                self._costly_since_ns = None
            else:
                if self._costly_since_ns is None:
                    self._costly_since_ns = now
                self._costly_reason = costly_why
            self._bad_reason = why
            self._good_since_ns = None
        elif worst <= self.config.recover_margin_ratio:
            if self._good_since_ns is None:
                self._good_since_ns = now
            self._bad_since_ns = None
            self._costly_since_ns = None
        else:  # between the thresholds: neither hold keeps running
            self._bad_since_ns = None
            self._costly_since_ns = None
            self._good_since_ns = None

    def _blackhole_window_ns(self) -> int:
        """How long sent bytes may go unconfirmed: ``blackhole_after_ms``, or two RTTs
        when that is longer."""
        return max(self._blackhole_ns, self._two_rtts_ns)

    def _deadline_for(self, link_input: LinkInput) -> int | None:
        cfg = self.config
        if link_input is LinkInput.STALE:
            return self._stale_ref_ns + self._stale_ns
        if link_input is LinkInput.BLACKHOLE:
            if self._first_unconfirmed_send_ns is None:
                return None
            return self._first_unconfirmed_send_ns + self._blackhole_window_ns()
        if link_input is LinkInput.STILL_DEGRADED:
            if self._costly_since_ns is None or not self._another_live:
                return None
            return self._costly_since_ns + cfg.degrade_max_ms * _NS_PER_MS
        if link_input is LinkInput.DEGRADED:
            if self._bad_since_ns is None:
                return None
            return self._bad_since_ns + cfg.degrade_hold_ms * _NS_PER_MS
        if link_input is LinkInput.RECOVERED:
            if self._good_since_ns is None:
                return None
            return self._good_since_ns + cfg.recover_hold_ms * _NS_PER_MS
        if link_input is LinkInput.PROBE_DONE:
            return self._entered_ns + self._probe_duration_ns
        if link_input is LinkInput.WARM_DONE:
            return self._entered_ns + cfg.warm_duration_ms * _NS_PER_MS
        if link_input is LinkInput.COOLDOWN_DONE:
            return self.rest_until_ns
        if link_input is LinkInput.FEEDBACK_OK:
            if not self._feedback_since_entry or self._now is None:
                return None
            if self._now - self._stale_ref_ns >= self._stale_ns:
                return None  # the feedback seen in reset has gone stale again
            return self.rest_until_ns
        return None  # local inputs have no timers

    def _condition(self, link_input: LinkInput, now: int) -> str | None:
        """Why ``link_input`` holds at ``now``, or None when it does not."""
        cfg = self.config
        deadline = self._deadline_for(link_input)
        if link_input is LinkInput.STALE:
            assert deadline is not None
            if now >= deadline:
                age_ms = (now - self._stale_ref_ns) // _NS_PER_MS
                return f"no feedback for {age_ms} ms"
            return None
        if link_input is LinkInput.BLACKHOLE:
            if deadline is not None and now >= deadline:
                return (
                    f"{self._unconfirmed_bytes} bytes sent, no delivery confirmed for "
                    f"{self._blackhole_window_ns() // _NS_PER_MS} ms"
                )
            return None
        if link_input is LinkInput.STILL_DEGRADED:
            if deadline is not None and now >= deadline:
                return self._costly_reason
            return None
        if link_input is LinkInput.DEGRADED:
            if deadline is not None and now >= deadline:
                return self._bad_reason
            return None
        if link_input is LinkInput.RECOVERED:
            if deadline is not None and now >= deadline:
                return f"quality clean for {cfg.recover_hold_ms} ms"
            return None
        if link_input is LinkInput.PROBE_DONE:
            ready = (
                deadline is not None
                and now >= deadline
                and self._probe_reports >= cfg.probe_min_feedback_count
                and self._bad_since_ns is None
            )
            return f"{self._probe_reports} feedback reports" if ready else None
        if link_input is LinkInput.WARM_DONE:
            ready = (
                deadline is not None
                and now >= deadline
                and self.warm_progress >= 1.0
                and self._bad_since_ns is None
            )
            return f"{self._warm_delivered_bytes} bytes confirmed" if ready else None
        if link_input is LinkInput.COOLDOWN_DONE:
            return "rest elapsed" if deadline is None or now >= deadline else None
        if link_input is LinkInput.FEEDBACK_OK:
            if not self._feedback_since_entry or now - self._stale_ref_ns >= self._stale_ns:
                return None
            return "feedback again" if deadline is None or now >= deadline else None
        return None

    def _evaluate(self, now: int) -> None:
        # Each firing changes state, and no chain of derived conditions can revisit a
        # state at one instant without a local input, so this loop is short.
        for _ in range(len(LinkState) + 1):
            rows = _ROWS_BY_STATE[self._state]
            for link_input in CONDITION_PRIORITY:
                if link_input not in rows:
                    continue
                detail = self._condition(link_input, now)
                if detail is not None:
                    self._fire(link_input, now, detail)
                    break
            else:
                break
        self._timer_ns = self._earliest_timer()


def _metrics_valid(metrics: LinkMetrics) -> bool:
    values = [metrics.loss, metrics.jitter_ms]
    values += [
        v for v in (metrics.rtt_ms, metrics.min_rtt_ms, metrics.delivery_rate_bps) if v is not None
    ]
    return all(math.isfinite(v) and v >= 0 for v in values) and metrics.loss <= 1.0


def _coefficient_of_variation(samples: deque[float]) -> float | None:
    if len(samples) < 2:
        return None
    mean = sum(samples) / len(samples)
    if mean <= 0:
        return None
    variance = sum((s - mean) ** 2 for s in samples) / len(samples)
    return math.sqrt(variance) / mean


if __name__ == "__main__":  # regenerate the tables for docs/lifecycle.md
    print(render_transition_table())
    print(render_config_table())
