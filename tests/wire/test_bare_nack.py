"""Generic NACK entries that GStreamer's ristsrc sends without their RTPFB header."""

from __future__ import annotations

from ristbond_core.wire import (
    GenericNack,
    ReceiverReport,
    SourceDescription,
    bare_nack_records,
    build_compound,
    parse_compound_prefix,
)

SSRC = 0x96540DB6
HEAD = build_compound([ReceiverReport(SSRC), SourceDescription.with_cname(SSRC, "user@host")])


def words(*records: tuple[int, int]) -> bytes:
    return b"".join(pid.to_bytes(2, "big") + blp.to_bytes(2, "big") for pid, blp in records)


def test_headerless_entries_after_rr_and_sdes_are_read_as_nack_records() -> None:
    datagram = HEAD + words((0xAF81, 0), (0xA002, 0b101))
    assert bare_nack_records(datagram) == [(0xAF81, 0), (0xA002, 0b101)]
    # The parser alone sees junk after the valid packets.
    packets, tail_error = parse_compound_prefix(datagram)
    assert [type(p) for p in packets] == [ReceiverReport, SourceDescription]
    assert tail_error is not None


def test_a_nonzero_blp_that_reads_as_a_long_length_is_still_one_entry() -> None:
    assert bare_nack_records(HEAD + words((0xB000, 0xFFFF))) == [(0xB000, 0xFFFF)]


def test_anything_else_is_not_taken_for_nack_entries() -> None:
    assert bare_nack_records(HEAD) == []  # nothing after the packets
    assert bare_nack_records(HEAD + words((0x8100, 0))) == []  # outside 0xA000-0xBFFF
    assert bare_nack_records(HEAD + words((0xA100, 0)) + b"\x00\x00") == []  # not whole words
    assert bare_nack_records(words((0xA100, 0))) == []  # no valid packet before them
    assert bare_nack_records(HEAD + words((0xA100, 0), (0x1234, 0))) == []
    nack = build_compound([GenericNack(1, SSRC, ((0xA100, 0),))])
    assert bare_nack_records(HEAD + nack) == []  # a proper NACK is no bare entry
