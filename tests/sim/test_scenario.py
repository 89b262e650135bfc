"""Scenario files, traces and the compiled timeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from ristbond_core.sim.scenario import (
    ScenarioError,
    load_scenario,
    load_trace,
    parse_scenario,
    shipped_names,
)
from ristbond_core.sim.suite import load_thresholds

REQUIRED = {
    "clean-2link", "asymmetric", "loss-shift", "step-change", "tunnel", "chicane", "doppler",
    "race-car", "cellular-3link", "flap-storm", "ip-change", "clock-jump", "cpu-stall",
}

MINIMAL = """
name = "t"
bitrate_kbps = 1000
latency_ms = 500
duration_s = 10
[links.a]
rate_mbps = 2
"""


def test_every_required_scenario_is_shipped() -> None:
    assert set(shipped_names()) >= REQUIRED


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_a_shipped_scenario_loads_and_its_checks_have_thresholds(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name
    assert scenario.min_duration_s <= scenario.duration_s
    assert scenario.checks, "a scenario says which metrics apply"
    bounds = {t.metric for t in load_thresholds() if t.scenario == name}
    assert bounds == set(scenario.checks)


def test_every_timeline_event_falls_inside_the_shortest_run() -> None:
    for name in shipped_names():
        scenario = load_scenario(name)
        for event in scenario.events:
            assert event["at_s"] < scenario.min_duration_s, name
        if scenario.shift is not None:
            assert scenario.shift.at_s + 3 <= scenario.min_duration_s, name


def test_rate_mbps_becomes_rate_bps() -> None:
    scenario = parse_scenario(MINIMAL, Path())
    assert scenario.link_models()["a"].rate_bps == 2e6


def test_an_unknown_link_setting_is_a_clear_error() -> None:
    with pytest.raises(ScenarioError, match="unknown setting"):
        parse_scenario(MINIMAL + "colour = 'red'\n", Path())


def test_an_unknown_scenario_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ScenarioError, match="clean-2link"):
        load_scenario("no-such-scenario")


def test_an_outage_event_becomes_down_then_up() -> None:
    text = MINIMAL + "[[events]]\nat_s = 2\naction = 'outage'\nlink = 'a'\nduration_s = 1.5\n"
    actions = parse_scenario(text, Path()).timeline(1, 10)
    assert [(a.at_s, dict(a.params)) for a in actions] == [(2.0, {"up": False}),
                                                          (3.5, {"up": True})]


def test_an_address_change_goes_dark_then_reattaches() -> None:
    text = MINIMAL + ("[[events]]\nat_s = 2\naction = 'address_change'\nlink = 'a'\n"
                      "down_ms = 200\n")
    kinds = [(a.at_s, a.kind) for a in parse_scenario(text, Path()).timeline(1, 10)]
    assert kinds == [(2.0, "set"), (2.2, "address_change"), (2.2, "set")]


def test_flaps_repeat_until_the_end() -> None:
    text = MINIMAL + "[[flaps]]\nlink = 'a'\nstart_s = 1\nperiod_s = 3\ndown_s = 1\n"
    downs = [a.at_s for a in parse_scenario(text, Path()).timeline(1, 10)
             if dict(a.params) == {"up": False}]
    assert downs == [1.0, 4.0, 7.0]


def test_a_random_walk_is_seeded_and_stays_in_range() -> None:
    text = MINIMAL + "[[random_walks]]\nlinks = ['a']\nstep_s = 0.5\nloss = [0.0, 0.1]\n"
    scenario = parse_scenario(text, Path())
    first = scenario.timeline(1, 10)
    assert first == scenario.timeline(1, 10)
    assert first != scenario.timeline(2, 10)
    assert all(0.0 <= dict(a.params)["loss"] <= 0.1 + 1e-9 for a in first)


def test_csv_and_toml_traces_read_the_same(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("time_s,rate_mbps,delay_ms\n0,5,20\n1,2.5,40\n")
    (tmp_path / "t.toml").write_text("[[points]]\ntime_s = 0\nrate_mbps = 5\ndelay_ms = 20\n"
                                     "[[points]]\ntime_s = 1\nrate_mbps = 2.5\ndelay_ms = 40\n")
    assert load_trace(tmp_path / "t.csv") == load_trace(tmp_path / "t.toml")


def test_a_trace_drives_the_link_and_repeats_past_its_end(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("time_s,rate_mbps\n0,5\n1,2.5\n")
    text = MINIMAL + 'trace = "t.csv"\n'
    actions = parse_scenario(text, tmp_path).timeline(1, 4.5)
    rates = [(a.at_s, dict(a.params)["rate_bps"]) for a in actions]
    assert rates == [(0.0, 5e6), (1.0, 2.5e6), (2.0, 5e6), (3.0, 2.5e6), (4.0, 5e6)]


def test_a_trace_without_time_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("rate_mbps\n5\n")
    with pytest.raises(ScenarioError, match="time_s"):
        load_trace(tmp_path / "t.csv")


def test_the_cellular_traces_stay_lte_like() -> None:
    scenario = load_scenario("cellular-3link")
    assert len(scenario.traces) == 3
    for points in scenario.traces.values():
        assert all(0.5 <= p["rate_mbps"] <= 10 and 20 <= p["delay_ms"] <= 80 for p in points)
        assert points[-1]["time_s"] >= 59
