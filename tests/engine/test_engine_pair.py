"""Sender and receiver engines together over in-memory links (no sockets, virtual time)."""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Mapping, Sequence

import pytest

from ristbond_core.contracts import LinkState, LinkView, PacketInfo
from ristbond_core.engine.common import OutDatagram, ns_to_rtp_ticks
from ristbond_core.engine.receiver import ReceiverSettings
from ristbond_core.engine.sender import SenderSettings
from ristbond_core.events import LinkStateChanged, PacketSkipped
from ristbond_core.sim.link_model import LinkModel
from ristbond_core.sim.pair import PairSimulation, ts_payload
from ristbond_core.wire import NtpClock, RtpPacket


class RoundRobin:
    """The simplest scheduler that respects the lifecycle (engine tests need no plugin)."""

    def __init__(self) -> None:
        self.count = 0

    def select(self, packet: PacketInfo, links: Sequence[LinkView], now_ns: int) -> list[str]:
        usable = [view.link_id for view in links if view.usable]
        if not usable:
            return []
        self.count += 1
        return [usable[self.count % len(usable)]]

    def shares(self, links: Sequence[LinkView], now_ns: int) -> Mapping[str, float]:
        usable = [view.link_id for view in links if view.usable]
        return {link_id: 1 / len(usable) for link_id in usable}

    def on_metrics(self, link: LinkView, now_ns: int) -> None:
        return None

    def on_link_added(self, link_id: str, now_ns: int) -> None:
        return None

    def on_link_removed(self, link_id: str, now_ns: int) -> None:
        return None


def pair(links: dict[str, LinkModel], latency_ms: int, seed: int = 1,
         **receiver: object) -> PairSimulation:
    return PairSimulation(
        links,
        RoundRobin(),
        sender=SenderSettings(latency_ms=latency_ms),
        receiver=ReceiverSettings(latency_ms=latency_ms, **receiver),  # type: ignore[arg-type]
        seed=seed,
    )


def test_two_lossy_links_deliver_every_byte_in_order() -> None:
    # 10 % independent loss each way on both links; RTT 40/60 ms; latency 400 ms ≥ 4 × RTT.
    sim = pair({"a": LinkModel(delay_ms=20, loss=0.10), "b": LinkModel(delay_ms=30, loss=0.10)},
               latency_ms=400, seed=7)
    result = sim.run(6.0, packets_per_s=800)
    assert len(result.sent) == 4800
    assert result.output == result.sent
    flow = sim.receiver.stats(sim.now_ns)["flow"]
    assert flow["lost"] == 0
    assert flow["recovered"] > 300  # about 10 % of 4800 came back through ARQ


def test_output_is_paced_like_the_input_at_the_configured_latency() -> None:
    sim = pair({"a": LinkModel(delay_ms=20), "b": LinkModel(delay_ms=30)}, latency_ms=300)
    result = sim.run(3.0, packets_per_s=500)
    assert result.output == result.sent
    delays_ms = [(out - inp) / 1e6
                 for inp, out in zip(result.input_times_ns, result.output_times_ns, strict=True)]
    # Output = input time + fastest one-way delay (20 ms) + latency (300 ms).
    assert min(delays_ms) >= 319.0
    assert max(delays_ms) <= 321.0


def test_pure_reordering_across_links_sends_no_nack() -> None:
    # Different delays, no loss: the slow link's packets arrive after the fast link's
    # successors, which is reordering, not loss.
    sim = pair({"fast": LinkModel(delay_ms=10), "slow": LinkModel(delay_ms=45)}, latency_ms=500)
    result = sim.run(5.0, packets_per_s=1000)
    assert result.output == result.sent
    flow = sim.receiver.stats(sim.now_ns)["flow"]
    assert flow["reordered"] > 1000
    assert flow["nacks_sent"] == 0
    assert sim.sender.counters.retransmitted == 0


def test_a_blackholed_link_is_demoted_and_nothing_is_lost() -> None:
    links = {"a": LinkModel(delay_ms=15), "b": LinkModel(delay_ms=25)}
    sim = pair(links, latency_ms=300)  # ≥ 3 × the remaining link's 50 ms RTT
    blackhole_at = sim.now_ns + 4_000_000_000

    def cut(sim: PairSimulation, now_ns: int) -> None:
        links["a"].up = now_ns < blackhole_at

    result = sim.run(8.0, packets_per_s=1000, on_time=cut)
    assert result.output == result.sent
    demotions = [e for e in result.events if isinstance(e, LinkStateChanged)
                 and e.link_id == "a" and e.old is LinkState.LIVE]
    assert demotions, "link a was never demoted"
    config = sim.sender.settings.lifecycle
    limit_ns = (config.blackhole_after_ms + 150) * 1_000_000
    assert demotions[0].at_ns - blackhole_at <= limit_ns
    a_sent_after = next(s for s in sim.sender.stats(sim.now_ns)["links"] if s["id"] == "a")
    assert a_sent_after["state"] != LinkState.LIVE.value


def test_an_unrecoverable_packet_is_skipped_and_output_continues() -> None:
    sim = PairSimulation(
        {"only": LinkModel(delay_ms=10, loss=0.05)},
        RoundRobin(),
        # Nothing can come back; no pairs, so every input datagram is one packet.
        sender=SenderSettings(latency_ms=200, max_retries=0, capacity_probe_interval_ms=0),
        receiver=ReceiverSettings(latency_ms=200),
        seed=3,
    )
    result = sim.run(3.0, packets_per_s=500)
    received = set(result.output)
    missing = [p for p in result.sent if p not in received]
    assert missing, "the seed must lose something for this test to mean anything"
    assert result.output == [p for p in result.sent if p in received]  # in order, no stall
    flow = sim.receiver.stats(sim.now_ns)["flow"]
    assert flow["lost"] == len(missing)
    skipped = [e for e in result.events if isinstance(e, PacketSkipped)]
    assert sum(e.count for e in skipped) == len(missing)
    assert {e.reason for e in skipped} == {"deadline"}


def test_garbage_duplicates_and_far_future_seqs_stay_bounded() -> None:
    bound = 2048
    sim = pair({"a": LinkModel(delay_ms=10), "b": LinkModel(delay_ms=20)}, latency_ms=300,
               max_buffer_packets=bound, max_buffer_bytes=bound * 1400)
    rng = random.Random(99)
    ssrc = sim.sender.settings.flow_id
    peak = {"packets": 0, "missing": 0}

    def flood(sim: PairSimulation, now_ns: int) -> None:
        for _ in range(20):
            kind = rng.randrange(4)
            if kind == 0:
                data = rng.randbytes(rng.randrange(0, 1500))
            elif kind == 1:  # valid-looking RTP of our flow, any seq, any timestamp
                data = bytes(RtpPacket(rng.randrange(65536), rng.getrandbits(32), ssrc,
                                       ts_payload(rng.randrange(10**6))))
            elif kind == 2:  # another flow
                data = bytes(RtpPacket(rng.randrange(65536), rng.getrandbits(32),
                                       rng.getrandbits(32) & ~1, b"x" * 100))
            else:  # truncated RTCP
                data = bytes([0x80, 201, 0, 7]) + rng.randbytes(rng.randrange(8))
            sim.receiver.receive_datagram(rng.choice(["a", "b", "x"]), data, now_ns)
        peak["packets"] = max(peak["packets"], sim.receiver.buffered_packets)
        peak["missing"] = max(peak["missing"], len(sim.receiver.tracker))

    tracemalloc.start()
    result = sim.run(4.0, packets_per_s=1000, on_time=flood)
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    flow = sim.receiver.stats(sim.now_ns)["flow"]
    assert peak["packets"] <= bound
    assert peak["missing"] <= bound
    assert flow["malformed"] > 1000
    assert flow["foreign_ssrc"] > 1000
    # Forged packets of our own flow can only displace the real packets they collide
    # with (simple profile has no authentication); everything else must get through.
    assert len(result.output) >= 0.97 * len(result.sent)
    assert peak_bytes < 64 * 1024 * 1024


def test_a_new_ssrc_takes_over_only_after_the_old_flow_went_silent() -> None:
    sim = pair({"a": LinkModel(delay_ms=10)}, latency_ms=200)
    result = sim.run(1.0, packets_per_s=200)
    assert result.output == result.sent
    quiet = sim.now_ns + 3_000_000_000  # longer than flow_timeout_ms after the last packet
    idle(sim, quiet)
    newcomer = [bytes(RtpPacket(5 + i, 1234 + 90 * i, 0x1000, b"newcomer")) for i in range(4)]
    for i, data in enumerate(newcomer[:3]):
        sim.receiver.receive_datagram("a", data, quiet + i)
    assert sim.receiver.counters.flow_resets == 0  # three packets are not yet evidence
    sim.receiver.receive_datagram("a", newcomer[3], quiet + 3)
    assert sim.receiver.counters.flow_resets == 1
    assert sim.receiver.counters.foreign_ssrc == 0
    assert sim.receiver.stats(quiet)["flow"]["ssrc"] == 0x1000


def idle(sim: PairSimulation, until_ns: int) -> None:
    """Wake the receiver at its deadlines until ``until_ns``, as a runtime would while
    no packet arrives (a call long after a deadline looks like a clock jump)."""
    now = sim.now_ns
    while now < until_ns:
        due = sim.receiver.next_deadline()
        now = min(until_ns, max(now + 1, due if due is not None else until_ns))
        sim.receiver.on_deadline(now)


def test_a_second_flow_is_refused_while_the_first_is_live() -> None:
    sim = pair({"a": LinkModel(delay_ms=10)}, latency_ms=200)

    def intrude(sim: PairSimulation, now_ns: int) -> None:
        sim.receiver.receive_datagram("a", bytes(RtpPacket(7, 99, 0x2000, b"other")), now_ns)

    result = sim.run(1.0, packets_per_s=200, on_time=intrude)
    assert result.output == result.sent
    assert sim.receiver.counters.foreign_ssrc > 100


@pytest.mark.parametrize("seed", [1, 2])
def test_the_same_seed_gives_the_same_run(seed: int) -> None:
    def run() -> tuple[list[int], dict[str, object]]:
        sim = pair({"a": LinkModel(delay_ms=20, loss=0.05, jitter_ms=5),
                    "b": LinkModel(delay_ms=35, loss=0.05)}, latency_ms=400, seed=seed)
        result = sim.run(2.0, packets_per_s=500)
        return result.output_times_ns, sim.receiver.stats(sim.now_ns)["flow"]

    assert run() == run()


def test_silent_links_expire_so_new_paths_are_accepted() -> None:
    from ristbond_core.engine.receiver import ReceiverEngine

    receiver = ReceiverEngine(ReceiverSettings(latency_ms=200, max_links=4),
                              ntp_clock=sim_clock(), now_ns=0)
    payload = bytes(RtpPacket(1, 0, 0x1000, b"x"))
    for i in range(4):  # four paths, then all of them go quiet
        receiver.receive_datagram(f"old{i}", payload, 0)
    receiver.receive_datagram("new", payload, 1_000_000_000)
    assert receiver.counters.links_refused == 1  # still full: nobody idle long enough
    receiver.receive_datagram("new", payload, 6_000_000_000)
    assert "new" in receiver.links
    assert receiver.counters.links_expired == 1
    receiver.on_deadline(40_000_000_000)
    assert "new" not in receiver.links  # quiet for 34 s: forgotten as well
    assert receiver.counters.links_expired == 5


def sim_clock() -> NtpClock:
    return NtpClock(0)


def test_late_packets_after_a_silence_are_not_played_twice() -> None:
    # The flow pauses for longer than resync_after_ms, then old packets (late
    # retransmissions and first transmissions) trickle in: they are late, not a
    # re-numbered sender, and must not restart the flow or be output again.
    sim = pair({"a": LinkModel(delay_ms=10)}, latency_ms=200)
    result = sim.run(1.0, packets_per_s=200)
    assert result.output == result.sent
    later = sim.now_ns + 2_000_000_000
    ssrc = sim.sender.settings.flow_id
    first = sim.receiver.stats(later)["flow"]
    sender = sim.sender
    last_input_ns = result.input_times_ns[-1]
    for i in range(8):
        back = 8 - i  # the last eight packets the sender sent, 5 ms apart
        seq = (sender._next_ext - back) & 0xFFFF
        sent_at = last_input_ns - back * 5_000_000
        ts = (sender._ts_base + ns_to_rtp_ticks(sent_at - sender.started_ns)) & 0xFFFF_FFFF
        for flag in (0, 1):
            data = bytes(RtpPacket(seq, ts, ssrc | flag, b"old"))
            sim.receiver.receive_datagram("a", data, later + i)
    sim.receiver.on_deadline(later + 1_000_000_000)
    assert sim.receiver.pop_output() == []
    flow = sim.receiver.stats(later + 1_000_000_000)["flow"]
    assert flow["flow_resets"] == first["flow_resets"] == 0
    assert flow["late"] == first["late"] + 16
    assert flow["lost"] == 0


def test_a_lost_last_packet_is_recovered_by_the_tail_probe() -> None:
    # Nothing after the last packet reveals its loss, so no NACK can ask for it; the
    # sender resends it once the input pauses.
    links = {"a": LinkModel(delay_ms=10), "b": LinkModel(delay_ms=20)}
    sim = pair(links, latency_ms=300)
    end_at = sim.now_ns + 2_000_000_000

    def drop_the_tail(sim: PairSimulation, now_ns: int) -> None:
        for model in links.values():  # the last few input packets are lost on both links
            model.loss = 1.0 if end_at - 15_000_000 <= now_ns < end_at + 1_000_000 else 0.0

    result = sim.run(2.0, packets_per_s=500, on_time=drop_the_tail)
    assert result.output == result.sent
    assert sim.sender.counters.tail_probes >= 1


def test_a_lost_tail_probe_is_followed_by_another_on_another_link() -> None:
    # The last packets and the first probe are lost: the receiver's link reports do not
    # show the last packet, so the sender probes again, and the stream is whole.
    links = {"a": LinkModel(delay_ms=10), "b": LinkModel(delay_ms=20), "c": LinkModel(delay_ms=30)}
    sim = pair(links, latency_ms=1000)
    end_at = sim.now_ns + 2_000_000_000

    def drop_the_tail_and_the_first_probe(sim: PairSimulation, now_ns: int) -> None:
        for model in links.values():
            model.loss = 1.0 if end_at - 15_000_000 <= now_ns < end_at + 150_000_000 else 0.0

    result = sim.run(2.0, packets_per_s=500, on_time=drop_the_tail_and_the_first_probe,
                     drain_s=2.0)
    assert result.output == result.sent
    assert 2 <= sim.sender.counters.tail_probes <= 3


def test_one_tail_probe_when_the_reports_show_the_last_packet_arrived() -> None:
    sim = pair({"a": LinkModel(delay_ms=10), "b": LinkModel(delay_ms=20)}, latency_ms=1000)
    result = sim.run(2.0, packets_per_s=500, drain_s=2.0)
    assert result.output == result.sent
    assert sim.sender.counters.tail_probes == 1


def test_the_buffer_level_is_the_media_held_ahead_of_the_output() -> None:
    sim = pair({"a": LinkModel(delay_ms=20)}, latency_ms=300)
    levels: list[int] = []
    input_ends = sim.now_ns + 2_000_000_000

    def sample(sim: PairSimulation, now_ns: int) -> None:
        if sim.receiver.buffered_packets > 100 and now_ns < input_ends:
            levels.append(sim.receiver.stats(now_ns)["flow"]["buffer_ms"])

    sim.run(2.0, packets_per_s=500, on_time=sample)
    steady = levels[len(levels) // 2:]
    assert steady
    assert all(280 <= level <= 300 for level in steady)  # ~ the latency budget


def test_a_receiver_asking_with_generic_nacks_is_answered() -> None:
    # GStreamer senders ignore RIST range NACKs; RFC 4585 generic NACKs work everywhere.
    from ristbond_core.wire import GenericNack, RistRangeNack, parse_compound_prefix

    sim = pair({"a": LinkModel(delay_ms=15, loss=0.05), "b": LinkModel(delay_ms=25, loss=0.05)},
               latency_ms=400, seed=3, nack_form="generic")
    forms: set[type] = set()
    original = sim.receiver.datagrams_to_send

    def record(now_ns: int) -> list[OutDatagram]:
        out = original(now_ns)
        for datagram in out:
            forms.update(type(p) for p in parse_compound_prefix(datagram.data)[0])
        return out

    sim.receiver.datagrams_to_send = record  # type: ignore[method-assign]
    result = sim.run(3.0, packets_per_s=500)
    assert result.output == result.sent
    assert GenericNack in forms
    assert RistRangeNack not in forms
    assert sim.sender.counters.retransmitted > 20


@pytest.mark.parametrize(("speaks_rist", "same_ssrc"), [(True, True), (False, False)])
def test_the_receiver_reports_with_the_flow_ssrc_only_to_rist_senders(
    speaks_rist: bool, same_ssrc: bool
) -> None:
    from ristbond_core.engine.receiver import ReceiverEngine
    from ristbond_core.wire import (
        ReceiverReport,
        RistEchoRequest,
        SenderReport,
        SourceDescription,
        build_compound,
        parse_compound,
    )

    flow = 0x1000
    receiver = ReceiverEngine(ReceiverSettings(latency_ms=200), ntp_clock=NtpClock(0), now_ns=0)
    report = [SenderReport(flow, 1 << 32, 0), SourceDescription.with_cname(flow, "peer")]
    if speaks_rist:  # librist and ristbond add an echo request to every SR compound
        report.append(RistEchoRequest(flow, 1 << 32))
    receiver.receive_datagram("a", build_compound(report), 0)
    for i in range(4):
        receiver.receive_datagram("a", bytes(RtpPacket(i, 90 * i, flow, b"x")), 1_000_000 * i)
    receiver.on_deadline(200_000_000)
    reports = [p for d in receiver.datagrams_to_send(200_000_000)
               for p in parse_compound(d.data) if isinstance(p, ReceiverReport)]
    assert reports
    assert all((p.ssrc == flow) is same_ssrc for p in reports)


@pytest.mark.parametrize(("speaks_rist", "form"), [(True, "range"), (False, "generic")])
def test_auto_nack_form_follows_what_the_sender_speaks(speaks_rist: bool, form: str) -> None:
    """``nack_form = auto`` (the default): range NACKs to RIST senders (an echo request in
    their SR compound), RFC 4585 generic NACKs to others (GStreamer's ristsink)."""
    from ristbond_core.engine.receiver import ReceiverEngine
    from ristbond_core.wire import (
        GenericNack,
        RistEchoRequest,
        RistRangeNack,
        SenderReport,
        SourceDescription,
        build_compound,
        parse_compound,
    )

    flow = 0x1000
    receiver = ReceiverEngine(ReceiverSettings(latency_ms=400), ntp_clock=NtpClock(0), now_ns=0)
    assert receiver.settings.nack_form == "auto"
    assert receiver.nack_form_now() == "range"  # until a sender report says otherwise
    report = [SenderReport(flow, 1 << 32, 0), SourceDescription.with_cname(flow, "peer")]
    if speaks_rist:
        report.append(RistEchoRequest(flow, 1 << 32))
    receiver.receive_datagram("a", build_compound(report), 0)
    assert receiver.nack_form_now() == form
    for i in (0, 1, 2, 5, 6):  # 3 and 4 are missing
        receiver.receive_datagram("a", bytes(RtpPacket(i, 90 * i, flow, b"x")), 1_000_000 * i)
    nacks: list[object] = []
    for ms in range(10, 300, 10):
        receiver.on_deadline(ms * 1_000_000)
        nacks += [p for d in receiver.datagrams_to_send(ms * 1_000_000)
                  for p in parse_compound(d.data) if isinstance(p, GenericNack | RistRangeNack)]
    assert nacks
    expected = RistRangeNack if form == "range" else GenericNack
    assert all(isinstance(p, expected) for p in nacks), nacks
    assert receiver.stats(300_000_000)["flow"]["nack_form"] == form


def test_the_tail_probe_does_not_demote_its_link_after_the_stream_ends() -> None:
    """The tail probe resends the last packet; when the original arrived, the copy is a
    duplicate that no report will ever confirm, so it must not start the blackhole
    clock: every link stays usable after the input ends."""
    # RTTs of 120-140 ms: the last packets are confirmed before the probe goes out (the
    # probe waits two RTTs), so only the probe is left unconfirmed on its link.
    sim = pair({"a": LinkModel(delay_ms=60), "b": LinkModel(delay_ms=70)}, latency_ms=1000)
    result = sim.run(3.0, packets_per_s=300, drain_s=3.0)
    assert result.output == result.sent
    assert sim.sender.counters.tail_probes >= 1
    demoted = [e for e in result.events
               if isinstance(e, LinkStateChanged) and e.new is LinkState.COOLDOWN]
    assert demoted == [], demoted
