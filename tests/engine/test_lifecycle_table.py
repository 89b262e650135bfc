"""Every row of the transition table, driven by the observations that cause it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ristbond_core.contracts import LinkState
from ristbond_core.engine.lifecycle import (
    LOCAL_INPUTS,
    TRANSITION_TABLE,
    TRANSITIONS,
    LifecycleUsageError,
    LinkInput,
    Transition,
)

from ._driver import BAD_LOSS, BAD_RTT, Driver, driver_in

SEND_BYTES = 1316


def _attach(d: Driver) -> None:
    d.attach()


def _detach(d: Driver) -> None:
    d.lifecycle.on_detach(d.now_ns)
    d.collect()


def _address_change(d: Driver) -> None:
    d.lifecycle.on_address_change(d.now_ns)
    d.collect()


def _clean_feedback(d: Driver) -> None:
    d.run(3_500)


def _bad_feedback(d: Driver) -> None:
    d.run(700, metrics=BAD_RTT)


def _bad_for_long(d: Driver) -> None:
    d.run(d.config.degrade_max_ms + 600, metrics=BAD_LOSS)


def _blackhole(d: Driver) -> None:
    d.run(d.config.blackhole_after_ms + 20, metrics=None, send_bytes_per_tick=SEND_BYTES)


def _silence(d: Driver) -> None:
    d.run(d.config.stale_after_ms + 20, metrics=None)


def _feedback_through_rest(d: Driver) -> None:
    d.run(d.config.cooldown_ms + 200)


TRIGGERS: dict[LinkInput, Callable[[Driver], None]] = {
    LinkInput.ATTACHED: _attach,
    LinkInput.DETACHED: _detach,
    LinkInput.ADDRESS_CHANGED: _address_change,
    LinkInput.PROBE_DONE: _clean_feedback,
    LinkInput.WARM_DONE: _clean_feedback,
    LinkInput.RECOVERED: _clean_feedback,
    LinkInput.DEGRADED: _bad_feedback,
    LinkInput.STILL_DEGRADED: _bad_for_long,
    LinkInput.BLACKHOLE: _blackhole,
    LinkInput.STALE: _silence,
    LinkInput.COOLDOWN_DONE: _feedback_through_rest,
    LinkInput.FEEDBACK_OK: _feedback_through_rest,
}


def _row_id(row: Transition) -> str:
    return f"{row.state.value}-{row.input.value}-{row.next.value}"


def test_every_input_has_a_trigger() -> None:
    assert set(TRIGGERS) == set(LinkInput)


def test_table_has_one_row_per_pair() -> None:
    assert len(TRANSITION_TABLE) == len(TRANSITIONS)


def test_every_state_is_reachable_and_left() -> None:
    assert {row.next for row in TRANSITIONS} == set(LinkState)
    assert {row.state for row in TRANSITIONS} == set(LinkState)


@pytest.mark.parametrize("row", TRANSITIONS, ids=_row_id)
def test_transition(row: Transition) -> None:
    d = driver_in(row.state)
    assert d.state is row.state
    already = len(d.events)
    TRIGGERS[row.input](d)
    caused = d.events[already:]
    if row.next is row.state:
        assert d.state is row.state
        assert caused == []
    else:
        assert caused, f"{row.input.value} caused no transition"
        first = caused[0]
        assert (first.old, first.new) == (row.state, row.next)
        assert first.reason.startswith(f"{row.input.value}: ")
        assert first.link_id == "cell0"


@pytest.mark.parametrize(
    ("state", "link_input"),
    [
        (state, link_input)
        for state in LinkState
        for link_input in (LinkInput.ATTACHED, LinkInput.DETACHED)
        if (state, link_input) not in TRANSITION_TABLE
    ],
)
def test_local_misuse_raises_a_precise_error(state: LinkState, link_input: LinkInput) -> None:
    d = driver_in(state)
    with pytest.raises(LifecycleUsageError) as caught:
        TRIGGERS[link_input](d)
    assert caught.value.state is state
    assert caught.value.input is link_input
    assert caught.value.link_id == "cell0"
    assert state.value in str(caught.value)
    assert d.state is state


def test_address_change_on_a_detached_link_is_ignored_with_a_reason() -> None:
    d = driver_in(LinkState.INIT)
    _address_change(d)
    assert d.state is LinkState.INIT
    assert d.lifecycle.ignored_count == 1
    assert d.lifecycle.last_ignored_reason == "address_changed is not meaningful in init"
    assert d.lifecycle.drain_events() == []


def test_local_inputs_are_the_runtime_commands() -> None:
    assert {LinkInput.ATTACHED, LinkInput.DETACHED, LinkInput.ADDRESS_CHANGED} == LOCAL_INPUTS
