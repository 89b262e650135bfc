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


# Captured on loopback from ristsrc while a session's sequence numbers crossed 0xC000:
# RR + SDES, then six headerless entries of which only the first two lie in
# 0xA000-0xBFFF. Read strictly, the whole list was junk and none of it was answered.
RISTSRC_RTCP_LIST_ACROSS_0XC000 = bytes.fromhex(
    "80c90001d617201f81ca0009d617201f011b7573657237333731353634353440686f73742d6332"
    "326666333635000000bf9c0000bfc60000c0040000c00b0000c0220000c0950000")


def test_a_headerless_list_is_read_whole_when_only_its_first_entry_is_in_the_range() -> None:
    assert bare_nack_records(RISTSRC_RTCP_LIST_ACROSS_0XC000) == [
        (0xBF9C, 0), (0xBFC6, 0), (0xC004, 0), (0xC00B, 0), (0xC022, 0), (0xC095, 0)]


def test_anything_else_is_not_taken_for_nack_entries() -> None:
    assert bare_nack_records(HEAD) == []  # nothing after the packets
    assert bare_nack_records(HEAD + words((0x8100, 0))) == []  # outside 0xA000-0xBFFF
    assert bare_nack_records(HEAD + words((0xA100, 0)) + b"\x00\x00") == []  # not whole words
    assert bare_nack_records(words((0xA100, 0))) == []  # no valid packet before them
    assert bare_nack_records(HEAD + words((0x1234, 0), (0xA100, 0))) == []  # first decides
    nack = build_compound([GenericNack(1, SSRC, ((0xA100, 0),))])
    assert bare_nack_records(HEAD + nack) == []  # a proper NACK is no bare entry
