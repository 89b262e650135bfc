"""Run a real SenderEngine and ReceiverEngine over simulated links on a virtual clock.

The same engines run under real sockets; here a discrete-event loop moves their
datagrams through :class:`SimPath` models in both directions (RTP forward, RTCP both
ways) and feeds input at a constant packet rate. Same seed, same result.

Faults that are not properties of a path live here because they touch the engines:
each engine can run on its own clock offset (a clock jump), both can stall (the
process was descheduled: nothing runs, then everything queued is handled at once),
and a sender link can re-attach as if its address changed.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ristbond_core.contracts import Scheduler
from ristbond_core.engine.common import NS_PER_MS, NS_PER_S
from ristbond_core.engine.receiver import ReceiverEngine, ReceiverSettings
from ristbond_core.engine.sender import SenderEngine, SenderSettings
from ristbond_core.sim.link_model import LinkModel, SimPath
from ristbond_core.wire import NtpClock

#: An arbitrary fixed wall-clock offset: simulated NTP times look like a real date.
SIM_UNIX_OFFSET_NS = 1_700_000_000 * NS_PER_S


def ts_payload(index: int, size: int = 1316) -> bytes:
    """A TS-shaped payload: 188-byte packets with sync byte, PID 0x100, continuity
    counters, and the input index in the first bytes so the output can be checked."""
    packets = []
    for k in range(size // 188):
        cc = (index * (size // 188) + k) & 0x0F
        header = bytes([0x47, 0x01, 0x00, 0x10 | cc])
        body = (index.to_bytes(8, "big") + k.to_bytes(2, "big")) * 19  # ≥ 184 bytes
        packets.append(header + body[:184])
    return b"".join(packets)


@dataclass(slots=True)
class PairResult:
    """What came out of a run."""

    sent: list[bytes] = field(default_factory=list)
    output: list[bytes] = field(default_factory=list)
    output_times_ns: list[int] = field(default_factory=list)
    input_times_ns: list[int] = field(default_factory=list)
    events: list[object] = field(default_factory=list)
    steps: int = 0


#: Observes every datagram handed to an engine: (to, link_id, data, at_ns).
ArrivalObserver = Callable[[str, str, bytes, int], None]
#: (link id, datagram, simulated ns) for every datagram the sender puts on a link.
DepartureObserver = Callable[[str, bytes, int], None]


class PairSimulation:
    """One sender and one receiver joined by named simulated links."""

    def __init__(
        self,
        links: dict[str, LinkModel],
        scheduler: Scheduler,
        *,
        sender: SenderSettings | None = None,
        receiver: ReceiverSettings | None = None,
        seed: int = 1,
        start_ns: int = 1_000 * NS_PER_S,
    ) -> None:
        self.rng = random.Random(seed)
        self.now_ns = start_ns
        clock = NtpClock(SIM_UNIX_OFFSET_NS)
        self.sender = SenderEngine(
            sender or SenderSettings(), scheduler, ntp_clock=clock, now_ns=start_ns,
            rng=random.Random(self.rng.getrandbits(32)),
        )
        self.receiver = ReceiverEngine(
            receiver or ReceiverSettings(), ntp_clock=clock, now_ns=start_ns
        )
        self.models = links
        self.forward = {name: SimPath(m, random.Random(self.rng.getrandbits(32)))
                        for name, m in links.items()}
        # The reverse path shares the model (same delay, loss, outages) but not the queue.
        self.reverse = {name: SimPath(m, random.Random(self.rng.getrandbits(32)))
                        for name, m in links.items()}
        self._wire: list[tuple[int, int, str, str, bytes]] = []  # (at, n, to, link, data)
        self._counter = 0
        #: What each engine's clock reads minus simulated time (a clock jump moves it).
        self.sender_offset_ns = 0
        self.receiver_offset_ns = 0
        #: Until when neither engine runs (a processing stall).
        self.stalled_until_ns = 0
        self._backlog: list[bytes] = []  # input that arrived during a stall
        self.on_arrival: ArrivalObserver | None = None
        self.on_departure: DepartureObserver | None = None
        for name in links:
            self.sender.add_link(name, start_ns)

    # -- faults -----------------------------------------------------------------------

    def jump_clock(self, engine: str, offset_ns: int) -> None:
        """Step ``engine``'s (``sender`` or ``receiver``) clock by ``offset_ns`` from now on."""
        if engine == "sender":
            self.sender_offset_ns += offset_ns
        elif engine == "receiver":
            self.receiver_offset_ns += offset_ns
        else:
            raise ValueError(f"no engine {engine!r} (sender or receiver)")

    def stall(self, duration_ns: int) -> None:
        """Neither engine runs for ``duration_ns`` from now; then they catch up."""
        self.stalled_until_ns = max(self.stalled_until_ns, self.now_ns + duration_ns)

    def change_address(self, link_id: str) -> None:
        """The sender's ``link_id`` re-attaches from a new address.

        Feedback in flight to the old address is lost and the new path starts with an
        empty queue; the sender forgets the link and learns it again from scratch.
        """
        self._wire = [w for w in self._wire if not (w[2] == "sender" and w[3] == link_id)]
        heapq.heapify(self._wire)
        self.forward[link_id].reset_queue()
        self.reverse[link_id].reset_queue()
        self.sender.remove_link(link_id, self.sender_now(self.now_ns))
        self.sender.add_link(link_id, self.sender_now(self.now_ns))

    def sender_now(self, now_ns: int) -> int:
        """What the sender's clock reads at simulated ``now_ns``."""
        return now_ns + self.sender_offset_ns

    def receiver_now(self, now_ns: int) -> int:
        """What the receiver's clock reads at simulated ``now_ns``."""
        return now_ns + self.receiver_offset_ns

    # -- the event loop ---------------------------------------------------------------

    def _pump(self, now_ns: int) -> None:
        for out in self.sender.datagrams_to_send(self.sender_now(now_ns)):
            if self.on_departure is not None:
                self.on_departure(out.link_id, out.data, now_ns)
            for arrival in self.forward[out.link_id].offer_all(len(out.data), now_ns):
                self._push(arrival, "receiver", out.link_id, out.data)
        for out in self.receiver.datagrams_to_send(self.receiver_now(now_ns)):
            if out.link_id not in self.reverse:
                continue
            for arrival in self.reverse[out.link_id].offer_all(len(out.data), now_ns):
                self._push(arrival, "sender", out.link_id, out.data)

    def _push(self, at_ns: int, to: str, link_id: str, data: bytes) -> None:
        self._counter += 1
        heapq.heappush(self._wire, (at_ns, self._counter, to, link_id, data))

    def _next_time(self, end: int, next_input: int, input_end: int) -> int:
        candidates = [end + 1]
        if next_input < input_end:
            candidates.append(next_input)
        if self.now_ns < self.stalled_until_ns:
            candidates.append(self.stalled_until_ns)
            return max(self.now_ns, min(candidates))
        deadlines = (
            (self.sender.next_deadline(), self.sender_offset_ns),
            (self.receiver.next_deadline(), self.receiver_offset_ns),
        )
        for deadline, offset in deadlines:
            if deadline is not None:
                candidates.append(deadline - offset)
        if self._wire:
            candidates.append(self._wire[0][0])
        return max(self.now_ns, min(candidates))

    def _deliver(self, now: int) -> None:
        while self._wire and self._wire[0][0] <= now:
            _, _, to, link_id, data = heapq.heappop(self._wire)
            if self.on_arrival is not None:
                self.on_arrival(to, link_id, data, now)
            if to == "receiver":
                self.receiver.receive_datagram(link_id, data, self.receiver_now(now))
            elif link_id in self.sender.links:
                self.sender.receive_datagram(link_id, data, self.sender_now(now))

    def run(
        self,
        duration_s: float,
        *,
        packets_per_s: float = 500.0,
        payload: Callable[[int], bytes] = ts_payload,
        on_time: Callable[[PairSimulation, int], None] | None = None,
        drain_s: float | None = None,
        max_steps: int = 5_000_000,
    ) -> PairResult:
        """Feed input for ``duration_s``, then let the pipeline drain; return the result.

        ``on_time(sim, now_ns)`` runs before each step so a test can change link models
        mid-run (an outage at t = 5 s, say). Times in the result are simulated time.
        """
        result = PairResult()
        interval_ns = int(NS_PER_S / packets_per_s)
        input_end = self.now_ns + int(duration_s * NS_PER_S)
        latency_ns = self.receiver.settings.latency_ms * NS_PER_MS
        drain_ns = int((drain_s if drain_s is not None else 1.0) * NS_PER_S) + 2 * latency_ns
        end = input_end + drain_ns
        next_input = self.now_ns
        index = 0
        while self.now_ns <= end and result.steps < max_steps:
            result.steps += 1
            now = self._next_time(end, next_input, input_end)
            if now > end:
                break
            self.now_ns = now
            if on_time is not None:
                on_time(self, now)
            if next_input <= now and next_input < input_end:
                data = payload(index)
                result.sent.append(data)
                result.input_times_ns.append(now)
                self._backlog.append(data)
                index += 1
                next_input += interval_ns
            if now < self.stalled_until_ns:
                continue  # nothing runs; input and datagrams wait
            self._deliver(now)
            sender_now = self.sender_now(now)
            for data in self._backlog:
                self.sender.send_payload(data, sender_now)
            self._backlog.clear()
            self.sender.on_deadline(sender_now)
            self.receiver.on_deadline(self.receiver_now(now))
            for data in self.receiver.pop_output():
                result.output.append(data)
                result.output_times_ns.append(now)
            self._pump(now)
        result.events.extend(self.sender.drain_events())
        result.events.extend(self.receiver.drain_events())
        return result
