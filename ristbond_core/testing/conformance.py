"""A reusable pytest suite that checks a scheduler honours the ``Scheduler`` contract.

A plugin's test module subclasses :class:`SchedulerConformance`, names its factory
and options, declares which optional properties apply, and pytest collects every
``test_*`` method below against that scheduler::

    class TestMinRttConformance(SchedulerConformance):
        factory = MinRttScheduler
        options_model = MinRttOptions
        capacity_aware = True

The suite drives a scheduler the way a sender engine does: ``on_link_added`` before
a link first appears in ``links``, ``on_metrics`` whenever a link's view changes,
``select`` once per packet with the current views, time only through ``now_ns``.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from pydantic import BaseModel

from ristbond_core.contracts import (
    LinkMetrics,
    LinkState,
    LinkView,
    PacketInfo,
    Scheduler,
    SchedulerSetup,
)
from ristbond_core.registry import NoOptions

__all__ = [
    "PACKET_INTERVAL_NS",
    "TS_PAYLOAD_BYTES",
    "SchedulerConformance",
    "StreamResult",
    "announce",
    "byte_fractions",
    "make_link",
    "run_stream",
    "varied_sizes",
]

TS_PAYLOAD_BYTES = 7 * 188
"""The usual packet: seven MPEG-TS packets in one RTP payload."""

PACKET_INTERVAL_NS = 1_000_000
"""Virtual time between packets in the suite's streams (about 10 Mbit/s of TS)."""


def make_link(
    link_id: str,
    *,
    capacity_bps: float | None = 5_000_000.0,
    loss: float = 0.0,
    rtt_ms: float | None = 40.0,
    usable: bool = True,
    state: LinkState | None = None,
    admission: float = 1.0,
    weight: float = 1.0,
) -> LinkView:
    """A ``LinkView`` with plausible metrics; ``state`` defaults to LIVE or COOLDOWN.

    An unusable link without an explicit state gets COOLDOWN, the phase in which the
    lifecycle normally withholds traffic.
    """
    if state is None:
        state = LinkState.LIVE if usable else LinkState.COOLDOWN
    metrics = LinkMetrics(
        rtt_ms=rtt_ms,
        min_rtt_ms=rtt_ms,
        loss=loss,
        capacity_bps=capacity_bps,
        feedback_age_ms=50.0,
    )
    return LinkView(
        link_id=link_id,
        state=state,
        usable=usable,
        admission=admission,
        weight=weight,
        metrics=metrics,
    )


class StreamResult:
    """What a stream of packets did: every selection, in order, and bytes per link."""

    def __init__(self) -> None:
        self.selections: list[tuple[str, ...]] = []
        self.bytes_by_link: Counter[str] = Counter()
        self.packets_by_link: Counter[str] = Counter()

    def record(self, chosen: Sequence[str], size_bytes: int) -> None:
        """Account one ``select()`` answer for a packet of ``size_bytes``."""
        ids = tuple(chosen)
        self.selections.append(ids)
        for link_id in ids:
            self.bytes_by_link[link_id] += size_bytes
            self.packets_by_link[link_id] += 1

    def chosen_ids(self) -> set[str]:
        """Every link id selected at least once."""
        return {link_id for ids in self.selections for link_id in ids}


def run_stream(
    scheduler: Scheduler,
    links: Sequence[LinkView],
    packets: int,
    *,
    sizes: Iterable[int] | None = None,
    start_ns: int = 0,
    first_seq: int = 0,
    result: StreamResult | None = None,
) -> StreamResult:
    """Offer ``packets`` packets to ``scheduler`` over ``links``, one every millisecond.

    ``sizes`` gives each packet's size (default: 1316 bytes each). The links are
    passed unchanged to every ``select``; announce them to the scheduler first.
    """
    result = result if result is not None else StreamResult()
    size_iter = iter(sizes) if sizes is not None else None
    for index in range(packets):
        size = next(size_iter) if size_iter is not None else TS_PAYLOAD_BYTES
        now_ns = start_ns + index * PACKET_INTERVAL_NS
        packet = PacketInfo(seq=first_seq + index, size_bytes=size)
        result.record(scheduler.select(packet, links, now_ns), size)
    return result


def byte_fractions(bytes_by_link: Mapping[str, int]) -> dict[str, float]:
    """Each link's fraction of all selected bytes."""
    total = sum(bytes_by_link.values())
    if total == 0:
        return {}
    return {link_id: count / total for link_id, count in bytes_by_link.items()}


def announce(scheduler: Scheduler, links: Sequence[LinkView], now_ns: int = 0) -> None:
    """Tell ``scheduler`` about ``links`` the way an engine does: added, then metrics."""
    for link in links:
        scheduler.on_link_added(link.link_id, now_ns)
    for link in links:
        scheduler.on_metrics(link, now_ns)


def varied_sizes(rng: random.Random, count: int) -> list[int]:
    """Packet sizes from 188 to 1316 bytes (whole TS packets), as a partial-burst stream has."""
    return [188 * rng.randint(1, 7) for _ in range(count)]


def _mixed_links() -> list[LinkView]:
    """Four usable links that differ in capacity, loss, RTT, weight and phase."""
    return [
        make_link("eth", capacity_bps=8_000_000.0, rtt_ms=20.0, weight=3.0),
        make_link("lte-a", capacity_bps=4_000_000.0, loss=0.02, rtt_ms=60.0, weight=2.0),
        make_link("lte-b", capacity_bps=2_000_000.0, rtt_ms=80.0, weight=1.0),
        make_link(
            "wifi",
            capacity_bps=3_000_000.0,
            rtt_ms=30.0,
            weight=1.5,
            state=LinkState.WARM,
            admission=0.5,
        ),
    ]


def _random_link(rng: random.Random, link_id: str) -> LinkView:
    """A link in a random lifecycle state with random, sometimes missing, metrics."""
    usable = rng.random() < 0.6
    if usable:
        state = rng.choice([LinkState.LIVE, LinkState.WARM, LinkState.PROBE, LinkState.DEGRADE])
    else:
        state = rng.choice([LinkState.INIT, LinkState.COOLDOWN, LinkState.RESET, LinkState.DEGRADE])
    return make_link(
        link_id,
        capacity_bps=rng.choice([None, 0.0, rng.uniform(1e5, 5e7)]),
        loss=rng.choice([0.0, 1.0, rng.uniform(0.0, 0.5)]),
        rtt_ms=rng.choice([None, rng.uniform(1.0, 800.0)]),
        usable=usable,
        state=state,
        admission=1.0 if state is LinkState.LIVE else rng.choice([0.0, 0.1, rng.random()]),
        weight=rng.choice([0.0, 1.0, rng.uniform(0.0, 10.0)]),
    )


class SchedulerConformance:
    """Subclass in a test module to run the contract checks against one scheduler.

    Set ``factory`` (what the plugin registers), and ``options_model``/``options``
    if the scheduler takes options. Declare the optional properties that apply:

    * ``capacity_aware`` — ``shares()`` follows ``metrics.capacity_bps``.
    * ``redundant`` — ``select()`` may return several links for one packet, so the
      shares are shares of transmitted copies rather than of distinct packets.
    * ``tracks_shares`` — long-run selected bytes converge to ``shares()`` within
      ``share_tolerance`` (absolute fraction).

    Override :meth:`make_scheduler` to build the scheduler another way, e.g. through
    ``PluginHost.create_scheduler`` to exercise the plugin's registration too.
    """

    factory: ClassVar[Callable[[SchedulerSetup], Scheduler]]
    options_model: ClassVar[type[BaseModel]] = NoOptions
    options: ClassVar[Mapping[str, Any]] = {}
    capacity_aware: ClassVar[bool] = False
    redundant: ClassVar[bool] = False
    tracks_shares: ClassVar[bool] = True
    share_tolerance: ClassVar[float] = 0.03
    seed: ClassVar[int] = 20_221

    # -- building blocks a subclass may override -----------------------------------

    def make_scheduler(self, seed: int | None = None) -> Scheduler:
        """A fresh scheduler with validated options and an RNG seeded with ``seed``."""
        factory = getattr(type(self), "factory", None)
        if factory is None:
            raise TypeError(
                f"{type(self).__name__} must set 'factory' to the scheduler factory it "
                "registers, or override make_scheduler()"
            )
        options = self.options_model.model_validate(dict(self.options))
        rng = random.Random(self.seed if seed is None else seed)
        scheduler: Scheduler = factory(SchedulerSetup(options=options, rng=rng))
        return scheduler

    def announced(self, links: Sequence[LinkView], seed: int | None = None) -> Scheduler:
        """A fresh scheduler that has been told about ``links``."""
        scheduler = self.make_scheduler(seed)
        announce(scheduler, links)
        return scheduler

    # -- basic shape ----------------------------------------------------------------

    def test_implements_the_scheduler_protocol(self) -> None:
        assert isinstance(self.make_scheduler(), Scheduler)

    def test_zero_links_selects_nothing_and_shares_nothing(self) -> None:
        scheduler = self.make_scheduler()
        assert list(scheduler.select(PacketInfo(seq=0, size_bytes=1316), [], 0)) == []
        assert dict(scheduler.shares([], 0)) == {}

    def test_single_link_carries_every_packet(self) -> None:
        links = [make_link("only")]
        scheduler = self.announced(links)
        result = run_stream(scheduler, links, 200)
        assert all(ids == ("only",) for ids in result.selections)
        assert dict(scheduler.shares(links, 0)) == {"only": 1.0}

    def test_many_links_each_selection_is_known_and_without_duplicates(self) -> None:
        links = [make_link(f"link{i}", rtt_ms=20.0 + 5 * i) for i in range(8)]
        scheduler = self.announced(links)
        result = run_stream(scheduler, links, 2_000)
        known = {link.link_id for link in links}
        for ids in result.selections:
            assert ids, "a packet was given no link although usable links exist"
            assert set(ids) <= known
            assert len(set(ids)) == len(ids), f"duplicate link in {ids}"
            assert self.redundant or len(ids) == 1
        shares = scheduler.shares(links, 0)
        assert {i for i, share in shares.items() if share > 0} <= result.chosen_ids()

    def test_retransmissions_are_placed_on_a_usable_link(self) -> None:
        links = [make_link("a"), make_link("b", usable=False), make_link("c")]
        scheduler = self.announced(links)
        for seq in range(50):
            packet = PacketInfo(seq=seq, size_bytes=1316, retransmission=True)
            ids = scheduler.select(packet, links, seq * PACKET_INTERVAL_NS)
            assert ids
            assert set(ids) <= {"a", "c"}

    # -- the lifecycle's verdict ------------------------------------------------------

    def test_never_selects_an_unusable_link_while_a_usable_one_exists(self) -> None:
        links = [
            make_link("live", capacity_bps=1_000_000.0, rtt_ms=90.0),
            make_link("cool", capacity_bps=50_000_000.0, rtt_ms=5.0, usable=False),
            make_link("reset", usable=False, state=LinkState.RESET, weight=10.0),
            make_link("probe", usable=False, state=LinkState.PROBE, admission=0.1),
        ]
        scheduler = self.announced(links)
        result = run_stream(scheduler, links, 1_000)
        assert result.chosen_ids() == {"live"}

    def test_all_links_unusable_is_handled_without_error(self) -> None:
        links = [make_link("a", usable=False), make_link("b", usable=False)]
        scheduler = self.announced(links)
        result = run_stream(scheduler, links, 100)
        # With no usable link a scheduler may drop (select nothing) or send anyway,
        # but only on links it was given.
        assert result.chosen_ids() <= {"a", "b"}
        shares = scheduler.shares(links, 0)
        assert set(shares) <= {"a", "b"}

    def test_shares_sum_to_one_and_name_only_usable_links(self) -> None:
        links = [*_mixed_links(), make_link("down", usable=False, weight=9.0)]
        scheduler = self.announced(links)
        shares = scheduler.shares(links, 0)
        assert "down" not in shares or shares["down"] == 0.0
        assert all(share >= 0.0 for share in shares.values())
        assert sum(shares.values()) == _approx(1.0)

    def test_random_link_sets_and_changes_respect_the_lifecycle(self) -> None:
        rng = random.Random(self.seed)
        for scenario in range(60):
            links = [_random_link(rng, f"l{i}") for i in range(rng.randint(1, 8))]
            scheduler = self.announced(links)
            for step in range(40):
                now = step * PACKET_INTERVAL_NS
                if step % 10 == 9:
                    index = rng.randrange(len(links))
                    links[index] = _random_link(rng, links[index].link_id)
                    scheduler.on_metrics(links[index], now)
                packet = PacketInfo(seq=step, size_bytes=188 * rng.randint(1, 7))
                chosen = set(scheduler.select(packet, links, now))
                usable = {link.link_id for link in links if link.usable}
                context = f"scenario {scenario}, packet {step}: chose {chosen} from {links}"
                if usable:
                    assert chosen, context
                    assert chosen <= usable, context
                else:
                    assert chosen <= {link.link_id for link in links}, context
            shares = scheduler.shares(links, 40 * PACKET_INTERVAL_NS)
            assert sum(shares.values()) == _approx(1.0), f"scenario {scenario}: {shares}"
            if usable:
                named = {link_id for link_id, share in shares.items() if share > 0.0}
                assert named <= usable, f"scenario {scenario}: {shares} for {links}"

    # -- long-run behaviour -------------------------------------------------------------

    def test_long_run_bytes_converge_to_shares(self) -> None:
        if not self.tracks_shares:
            _skip("scheduler declares tracks_shares = False")
        links = _mixed_links()
        scheduler = self.announced(links)
        sizes = varied_sizes(random.Random(7), 20_000)
        result = run_stream(scheduler, links, len(sizes), sizes=sizes)
        shares = scheduler.shares(links, len(sizes) * PACKET_INTERVAL_NS)
        fractions = byte_fractions(result.bytes_by_link)
        for link in links:
            got = fractions.get(link.link_id, 0.0)
            want = shares.get(link.link_id, 0.0)
            assert abs(got - want) <= self.share_tolerance, (
                f"{link.link_id}: carried {got:.3f} of bytes, shares() said {want:.3f}"
            )

    def test_links_added_and_removed_mid_stream(self) -> None:
        links = [make_link("a"), make_link("b")]
        scheduler = self.announced(links)
        now = 0
        result = run_stream(scheduler, links, 300, start_ns=now)
        now += 300 * PACKET_INTERVAL_NS

        joined = make_link("c", capacity_bps=20_000_000.0, rtt_ms=10.0, weight=4.0)
        scheduler.on_link_added("c", now)
        scheduler.on_metrics(joined, now)
        links = [*links, joined]
        after_join = run_stream(scheduler, links, 300, start_ns=now, first_seq=300)
        assert "c" in after_join.chosen_ids()
        now += 300 * PACKET_INTERVAL_NS

        scheduler.on_link_removed("a", now)
        links = [link for link in links if link.link_id != "a"]
        after_leave = run_stream(scheduler, links, 300, start_ns=now, first_seq=600)
        assert "a" not in after_leave.chosen_ids()
        assert "a" not in scheduler.shares(links, now)
        assert result.selections  # the stream ran before the changes too

        for link_id in ("b", "c"):
            scheduler.on_link_removed(link_id, now)
        assert list(scheduler.select(PacketInfo(seq=900, size_bytes=1316), [], now)) == []

    def test_removed_link_id_can_join_again(self) -> None:
        links = [make_link("a"), make_link("b")]
        scheduler = self.announced(links)
        run_stream(scheduler, links, 100)
        scheduler.on_link_removed("b", 100 * PACKET_INTERVAL_NS)
        run_stream(scheduler, links[:1], 100, start_ns=100 * PACKET_INTERVAL_NS)
        scheduler.on_link_added("b", 200 * PACKET_INTERVAL_NS)
        scheduler.on_metrics(links[1], 200 * PACKET_INTERVAL_NS)
        again = run_stream(scheduler, links, 200, start_ns=200 * PACKET_INTERVAL_NS)
        assert again.chosen_ids() == {"a", "b"}

    def test_same_seed_and_inputs_give_same_selections(self) -> None:
        links = _mixed_links()
        sizes = varied_sizes(random.Random(3), 2_000)
        first = run_stream(self.announced(links, seed=99), links, len(sizes), sizes=sizes)
        second = run_stream(self.announced(links, seed=99), links, len(sizes), sizes=sizes)
        assert first.selections == second.selections

    # -- reacting to metrics -------------------------------------------------------------

    def test_link_turning_unusable_then_usable_again(self) -> None:
        links = [make_link("a"), make_link("b")]
        scheduler = self.announced(links)
        run_stream(scheduler, links, 100)
        now = 100 * PACKET_INTERVAL_NS

        down = replace(links[1], usable=False, state=LinkState.DEGRADE)
        scheduler.on_metrics(down, now)
        degraded = [links[0], down]
        shares = scheduler.shares(degraded, now)
        assert shares.get("b", 0.0) == 0.0
        assert sum(shares.values()) == _approx(1.0)
        result = run_stream(scheduler, degraded, 200, start_ns=now, first_seq=100)
        assert result.chosen_ids() == {"a"}
        now += 200 * PACKET_INTERVAL_NS

        scheduler.on_metrics(links[1], now)
        assert scheduler.shares(links, now).get("b", 0.0) > 0.0
        back = run_stream(scheduler, links, 200, start_ns=now, first_seq=300)
        assert "b" in back.chosen_ids()

    def test_capacity_change_moves_shares(self) -> None:
        if not self.capacity_aware:
            _skip("scheduler does not declare capacity_aware = True")
        links = [make_link("a", capacity_bps=4_000_000.0), make_link("b", capacity_bps=4_000_000.0)]
        scheduler = self.announced(links)
        before = scheduler.shares(links, 0)["b"]
        grown = replace(links[1], metrics=replace(links[1].metrics, capacity_bps=12_000_000.0))
        scheduler.on_metrics(grown, 1_000_000)
        after = scheduler.shares([links[0], grown], 1_000_000)["b"]
        assert after > before
        result = run_stream(scheduler, [links[0], grown], 2_000, start_ns=1_000_000)
        fractions = byte_fractions(result.bytes_by_link)
        assert fractions["b"] > before + 0.1


def _approx(value: float) -> Any:
    """``pytest.approx`` imported lazily, so importing this module needs no pytest."""
    import pytest

    return pytest.approx(value)


def _skip(reason: str) -> None:
    import pytest

    pytest.skip(reason)
