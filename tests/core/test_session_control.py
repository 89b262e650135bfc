"""SessionControl: lifecycle and scheduler over a session transport's per-link reports."""

from __future__ import annotations

import random

import pytest

from ristbond_core.contracts import LinkMetrics, LinkState, SessionLinkReport
from ristbond_core.engine.common import NS_PER_MS
from ristbond_core.plugins import PluginHost
from ristbond_core.runtime.session_control import SessionControl

START = 1_000 * NS_PER_MS
STEP = 100 * NS_PER_MS
#: About 5 Mbit/s worth of bytes per 100 ms report.
BYTES_PER_REPORT = 62_500


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.discover()


def control_for(host: PluginHost, scheduler: str, links: tuple[str, ...] = ("a", "b")
                ) -> SessionControl:
    control = SessionControl(host.create_scheduler(scheduler, {}, random.Random(1)))
    for link_id in links:
        control.add_link(link_id, START)
    return control


def report(link_id: str, now: int, *, rtt_ms: float = 20.0, loss: float = 0.0,
           rate_bps: float = 5e6) -> SessionLinkReport:
    return SessionLinkReport(
        link_id=link_id, measured_ns=now,
        metrics=LinkMetrics(rtt_ms=rtt_ms, min_rtt_ms=rtt_ms, loss=loss,
                            delivery_rate_bps=rate_bps),
        counters={"sent_bytes": BYTES_PER_REPORT, "delivered_bytes": BYTES_PER_REPORT,
                  "sent_packets": 50},
    )


def run(control: SessionControl, seconds: float, start: int, **overrides: dict[str, float]
        ) -> int:
    """Feed a report per link every 100 ms; ``overrides[link]`` changes its metrics."""
    now = start
    for _ in range(int(seconds * 10)):
        now += STEP
        for link_id in control.link_ids:
            control.on_report(report(link_id, now, **overrides.get(link_id, {})), now)
        control.on_deadline(now)
    return now


def test_links_start_probing_and_go_live_on_good_reports(host: PluginHost) -> None:
    control = control_for(host, "dwrr")
    assert {row["state"] for row in control.link_stats(START)} == {"probe"}
    run(control, 8.0, START)
    assert {row["state"] for row in control.link_stats(START)} == {"live"}
    states = [(e.link_id, e.new) for e in control.drain_events()]
    assert ("a", LinkState.LIVE) in states and ("b", LinkState.LIVE) in states


def test_loss_on_one_link_moves_the_split_away_from_it(host: PluginHost) -> None:
    control = control_for(host, "dwrr")
    now = run(control, 8.0, START)
    before = control.shares_to_apply(now)
    assert before is not None
    control.applied(before, {k: round(v * 100) for k, v in before.items()})
    assert control.shares_to_apply(now) is None  # nothing moved since it was applied
    now = run(control, 1.0, now, a={"loss": 0.10})
    after = control.shares_to_apply(now)
    assert after is not None
    # dwrr weighs capacity × (1 − loss)^4: 0.9^4 ≈ 0.66 of a's former weight.
    assert after["a"] < before["a"] - 0.05
    assert abs(sum(after.values()) - 1.0) < 1e-6


def test_a_link_with_bad_rtt_is_demoted_and_loses_its_share(host: PluginHost) -> None:
    control = control_for(host, "dwrr")
    now = run(control, 8.0, START)
    now = run(control, 5.0, now, b={"rtt_ms": 400.0})
    row = {r["id"]: r for r in control.link_stats(now)}
    assert row["b"]["state"] not in {"live", "warm"}
    # A degraded link keeps only the lifecycle's small admission share, to stay measured.
    shares = control.target_shares(now)
    assert shares["b"] <= 0.25
    assert shares["a"] >= 0.75


def test_broadcast_asks_for_duplication(host: PluginHost) -> None:
    assert control_for(host, "broadcast").duplicate
    assert not control_for(host, "dwrr").duplicate


def test_reports_for_unknown_links_are_counted_not_applied(host: PluginHost) -> None:
    control = control_for(host, "dwrr", ("a",))
    control.on_report(report("ghost", START + STEP), START + STEP)
    assert control.reports_unknown_link == 1
    assert control.link_ids == ["a"]


def test_removed_link_leaves_the_split(host: PluginHost) -> None:
    control = control_for(host, "weighted")
    now = run(control, 6.0, START)
    control.remove_link("b", now)
    assert control.target_shares(now) == {"a": pytest.approx(1.0)}
    assert [e.new for e in control.drain_events() if e.link_id == "b"][-1] is LinkState.INIT
