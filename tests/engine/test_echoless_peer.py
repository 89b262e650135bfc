"""A receiver that sends RR and generic NACKs but no RTT echo (GStreamer's ristsrc).

Its round trip comes from its report blocks, and its NACKs after a retransmission
may be requests queued before the retransmission arrived: neither may be misread.
"""

from __future__ import annotations

import random

from ristbond_core.engine.common import NS_PER_MS
from ristbond_core.engine.sender import SenderEngine, SenderSettings
from ristbond_core.wire import (
    GenericNack,
    NtpClock,
    ReceiverReport,
    ReportBlock,
    RtpPacket,
    SenderReport,
    SourceDescription,
    build_compound,
    generic_nack_records,
    parse_compound_prefix,
)
from ristbond_core.wire.ntp import ns_to_ntp_short, ntp_middle32
from tests.engine.test_engine_pair import RoundRobin

PEER_SSRC = 0x5EED


def sender_with_links(*link_ids: str) -> SenderEngine:
    sender = SenderEngine(SenderSettings(latency_ms=1000), RoundRobin(),
                          ntp_clock=NtpClock(0), now_ns=0, rng=random.Random(3))
    for link_id in link_ids:
        sender.add_link(link_id, 0)
    return sender


def sent_report(sender: SenderEngine, now_ns: int) -> SenderReport:
    sender.on_deadline(now_ns)
    for out in sender.datagrams_to_send(now_ns):
        packets, _ = parse_compound_prefix(out.data)
        for packet in packets:
            if isinstance(packet, SenderReport):
                return packet
    raise AssertionError("no SR sent")


def receiver_report(sender: SenderEngine, last_sr: int = 0, dlsr_ns: int = 0) -> bytes:
    block = ReportBlock(sender.stats(0)["flow"]["ssrc"], last_sr=last_sr,
                        delay_since_last_sr=ns_to_ntp_short(dlsr_ns))
    return build_compound([ReceiverReport(PEER_SSRC, (block,)),
                           SourceDescription.with_cname(PEER_SSRC, "ristsrc@host")])


def nack(sender: SenderEngine, seq: int) -> bytes:
    ssrc = sender.stats(0)["flow"]["ssrc"]
    return build_compound([ReceiverReport(PEER_SSRC),
                           GenericNack(PEER_SSRC, ssrc, tuple(generic_nack_records([seq])))])


def test_the_round_trip_from_a_report_block_leaves_out_the_receivers_hold_time() -> None:
    """RTT = now - LSR - DLSR. The peer held the SR 300 ms before reporting on it, and
    the report arrived 340 ms after the SR left: the path's round trip is 40 ms."""
    sender = sender_with_links("a")
    report = sent_report(sender, 0)
    sender.receive_datagram("a", receiver_report(
        sender, ntp_middle32(report.ntp_timestamp), 300 * NS_PER_MS), 340 * NS_PER_MS)
    assert sender.links["a"].reported_rtt_ms is not None
    assert abs(sender.links["a"].reported_rtt_ms - 40.0) < 0.1


def test_a_report_block_that_would_give_a_negative_round_trip_is_ignored() -> None:
    sender = sender_with_links("a")
    report = sent_report(sender, 0)
    sender.receive_datagram("a", receiver_report(
        sender, ntp_middle32(report.ntp_timestamp), 500 * NS_PER_MS), 340 * NS_PER_MS)
    assert sender.links["a"].reported_rtt_ms is None


def test_a_stale_repeat_after_a_retransmission_is_not_charged_to_its_link() -> None:
    """The original's NACK is charged to the link that carried it; a repeat of that
    NACK after the retransmission went out, with no RTT echo to time it by, is not
    charged to the retransmission's link."""
    sender = sender_with_links("a", "b")
    report = sent_report(sender, 0)  # both links report a 2 ms round trip
    for link_id in ("a", "b"):
        sender.receive_datagram(link_id, receiver_report(
            sender, ntp_middle32(report.ntp_timestamp), 1 * NS_PER_MS), 3 * NS_PER_MS)
    for i in range(4):
        sender.send_payload(bytes([i]) * 100, 1_000_000 + i)
    originals = {RtpPacket.parse(out.data).sequence_number: out.link_id
                 for out in sender.datagrams_to_send(2_000_000) if out.data[1] & 0x7F == 33}
    seq, carrier = next(iter(originals.items()))
    other = "a" if carrier == "b" else "b"
    sender.receive_datagram(carrier, nack(sender, seq), 100 * NS_PER_MS)
    resent = [out.link_id for out in sender.datagrams_to_send(100 * NS_PER_MS)
              if out.data[1] & 0x7F == 33]
    assert resent == [other]
    sender.receive_datagram(other, nack(sender, seq), 130 * NS_PER_MS)
    again = [out for out in sender.datagrams_to_send(130 * NS_PER_MS) if out.data[1] & 0x7F == 33]
    assert len(again) == 1  # answered: past the 2 ms round trip, it may be a real loss
    assert sender.links[carrier].attributed_losses == 1
    assert sender.links[other].attributed_losses == 0


def test_a_long_round_trip_from_report_blocks_does_not_make_nacks_too_late() -> None:
    """A peer's report blocks claim 1.5 s (its bookkeeping, unverifiable without an
    echo); a NACK 300 ms after the packet left is still answered within the 1 s budget."""
    sender = sender_with_links("a", "b")
    report = sent_report(sender, 0)
    for link_id in ("a", "b"):
        sender.receive_datagram(link_id, receiver_report(
            sender, ntp_middle32(report.ntp_timestamp) - ns_to_ntp_short(1500 * NS_PER_MS)),
            3 * NS_PER_MS)
        assert sender.links[link_id].reported_rtt_ms is not None
    sender.send_payload(bytes(100), 10 * NS_PER_MS)
    (original,) = [out for out in sender.datagrams_to_send(10 * NS_PER_MS)
                   if out.data[1] & 0x7F == 33]
    seq = RtpPacket.parse(original.data).sequence_number
    sender.receive_datagram(original.link_id, nack(sender, seq), 310 * NS_PER_MS)
    resent = [out for out in sender.datagrams_to_send(310 * NS_PER_MS) if out.data[1] & 0x7F == 33]
    assert len(resent) == 1
    assert sender.counters.retransmit_too_late == 0
