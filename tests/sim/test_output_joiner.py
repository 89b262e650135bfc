"""The simulator judges a run per input datagram, even when one left in two packets."""

from __future__ import annotations

from ristbond_core.sim.pair import OutputJoiner, ts_payload


def test_the_halves_of_a_split_datagram_are_joined_again() -> None:
    joiner = OutputJoiner()
    inputs = [ts_payload(index) for index in range(3)]
    for data in inputs:
        joiner.on_input(data)
    out = joiner.on_output(inputs[0])
    out += joiner.on_output(inputs[1][:564])
    assert out == [inputs[0]]  # the first half waits for the second
    out += joiner.on_output(inputs[1][564:])
    out += joiner.on_output(inputs[2])
    assert out == inputs
    assert joiner.flush() == []


def test_a_datagram_with_a_half_missing_comes_out_as_the_part_that_arrived() -> None:
    joiner = OutputJoiner()
    inputs = [ts_payload(index) for index in range(3)]
    for data in inputs:
        joiner.on_input(data)
    out = joiner.on_output(inputs[0][:564])
    out += joiner.on_output(inputs[1])  # the second half of 0 was lost
    out += joiner.on_output(inputs[2][:564])
    assert out == [inputs[0][:564], inputs[1]]
    assert joiner.flush() == [inputs[2][:564]]  # the run ended before the rest came
