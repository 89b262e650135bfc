"""The real-time relay loop: read datagrams, impair them with ``SimPath``, deliver on time.

A single ``selectors`` loop serves every socket of every link. A datagram that survives
its path waits in one heap keyed by delivery time (``time.monotonic_ns``) and is sent
when that time comes; nothing sleeps past the next delivery. Reads per wake-up,
deliveries per pass and datagrams in flight are all bounded.
"""

from __future__ import annotations

import heapq
import itertools
import json
import selectors
import socket
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from ristbond_core.errors import RistbondError
from ristbond_core.relay.link import RelayDirection, RelayLink
from ristbond_core.relay.sockets import Address
from ristbond_core.relay.spec import LinkSpec, check_unique

MAX_DATAGRAM_BYTES = 65535
READS_PER_WAKEUP = 256
DELIVERIES_PER_PASS = 4096
# Upper bound of one select() wait, so a stop request or a duration end is seen quickly.
IDLE_TICK_NS = 20_000_000
NS_PER_MS = 1_000_000
DEFAULT_MAX_PENDING = 20_000
STATS_SCHEMA = "ristbond-netem/1"

# (delivery time ns, tie-break, datagram, socket, destination, direction)
_Pending = tuple[int, int, bytes, socket.socket, Address, RelayDirection]


class Relay:
    """Relays and impairs several links in one thread; run it directly or in a thread."""

    def __init__(
        self,
        specs: Sequence[LinkSpec],
        seed: int = 1,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        if not specs:
            raise RistbondError("netem: no link to relay (give --listen/--forward or --links)")
        check_unique(list(specs), "netem")
        self.links: dict[str, RelayLink] = {}
        self._selector = selectors.DefaultSelector()
        try:
            for index, spec in enumerate(specs):
                link = RelayLink(spec, seed, index, max_pending)
                self.links[link.name] = link
                self._register_link(link)
        except BaseException:
            self.close()
            raise
        self._heap: list[_Pending] = []
        self._tie = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.started_ns = time.monotonic_ns()

    # -- wiring ---------------------------------------------------------------------------

    def _register_link(self, link: RelayLink) -> None:
        self._selector.register(link.listen_rtp, selectors.EVENT_READ,
                                lambda now: self._read_forward(link, rtcp=False, now_ns=now))
        self._selector.register(link.listen_rtcp, selectors.EVENT_READ,
                                lambda now: self._read_forward(link, rtcp=True, now_ns=now))
        self._selector.register(link.out_rtp, selectors.EVENT_READ,
                                lambda now: self._read_reverse(link, rtcp=False, now_ns=now))
        self._selector.register(link.out_rtcp, selectors.EVENT_READ,
                                lambda now: self._read_reverse(link, rtcp=True, now_ns=now))

    def add_reader(self, sock: socket.socket, callback: Callable[[int], None]) -> None:
        """Serve another socket (a control port) from the same loop; ``callback(now_ns)``."""
        self._selector.register(sock, selectors.EVENT_READ, callback)

    def link(self, name: str) -> RelayLink:
        """The link called ``name``; a clear error naming the known ones otherwise."""
        try:
            return self.links[name]
        except KeyError:
            known = ", ".join(self.links)
            raise RistbondError(f"no link named {name!r} (links: {known})") from None

    def set_all_up(self, up: bool) -> None:
        """Outage (or recovery) of every link in both directions."""
        for link in self.links.values():
            link.set_up(up)

    # -- datagram path --------------------------------------------------------------------

    def _read_forward(self, link: RelayLink, rtcp: bool, now_ns: int) -> None:
        sock = link.listen_rtcp if rtcp else link.listen_rtp
        destination = link.forward_rtcp if rtcp else link.forward_rtp
        out = link.out_rtcp if rtcp else link.out_rtp
        for _ in range(READS_PER_WAKEUP):
            try:
                data, source = sock.recvfrom(MAX_DATAGRAM_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # an ICMP error from an earlier send; nothing to relay
            peer: Address = (str(source[0]), int(source[1]))
            if rtcp:
                link.peer_rtcp = peer
            else:
                link.peer_rtp = peer
            self._admit(link.forward, data, out, destination, now_ns)

    def _read_reverse(self, link: RelayLink, rtcp: bool, now_ns: int) -> None:
        sock = link.out_rtcp if rtcp else link.out_rtp
        back = link.listen_rtcp if rtcp else link.listen_rtp
        for _ in range(READS_PER_WAKEUP):
            try:
                data, _source = sock.recvfrom(MAX_DATAGRAM_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            peer = link.peer_rtcp if rtcp else link.peer_rtp
            if peer is None:
                link.reverse.counters.received += 1
                link.reverse.counters.dropped_no_peer += 1
                continue
            self._admit(link.reverse, data, back, peer, now_ns)

    def _admit(self, direction: RelayDirection, data: bytes, out: socket.socket,
               destination: Address, now_ns: int) -> None:
        for arrival_ns in direction.admit(len(data), now_ns):
            heapq.heappush(self._heap, (arrival_ns, next(self._tie), data, out, destination,
                                        direction))

    def _deliver_due(self, now_ns: int) -> None:
        heap = self._heap
        for _ in range(DELIVERIES_PER_PASS):
            if not heap or heap[0][0] > now_ns:
                return
            _, _, data, out, destination, direction = heapq.heappop(heap)
            direction.pending -= 1
            try:
                out.sendto(data, destination)
            except OSError:
                direction.counters.send_errors += 1
                continue
            direction.counters.forwarded += 1
            direction.counters.forwarded_bytes += len(data)

    # -- running --------------------------------------------------------------------------

    def run(self, duration_s: float | None = None) -> None:
        """Relay until ``duration_s`` has passed or ``stop()`` is called."""
        end_ns = None if duration_s is None else time.monotonic_ns() + int(duration_s * 1e9)
        while not self._stop.is_set():
            now_ns = time.monotonic_ns()
            if end_ns is not None and now_ns >= end_ns:
                break
            self._deliver_due(now_ns)
            wait_ns = IDLE_TICK_NS
            if self._heap:
                wait_ns = min(wait_ns, max(0, self._heap[0][0] - now_ns))
            if end_ns is not None:
                wait_ns = min(wait_ns, max(0, end_ns - now_ns))
            if 0 < wait_ns < NS_PER_MS:
                # select() waits in whole milliseconds (rounded up); the last fraction
                # of a millisecond before a delivery is slept precisely instead.
                time.sleep(wait_ns / 1e9)
                wait_ns = 0
            for key, _ in self._selector.select((wait_ns // NS_PER_MS) / 1e3):
                key.data(time.monotonic_ns())

    def request_stop(self) -> None:
        """Ask the loop to end; safe from a signal handler or another thread."""
        self._stop.set()

    def start(self) -> Relay:
        """Run the loop in a daemon thread (for tests and embedding)."""
        if self._thread is not None:
            raise RistbondError("relay already started")

        def target() -> None:
            try:
                self.run()
            except BaseException as exc:  # reported by stop()
                self._error = exc

        self._thread = threading.Thread(target=target, name="ristbond-netem", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread started by ``start()``, close the sockets, re-raise its error."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.close()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Close every socket and the selector."""
        for link in self.links.values():
            link.close()
        self._selector.close()

    def __enter__(self) -> Relay:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- reporting ------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Every link's counters in one JSON-ready object."""
        return {
            "schema": STATS_SCHEMA,
            "monotonic_ns": time.monotonic_ns(),
            "wall_time_ns": time.time_ns(),
            "uptime_ms": (time.monotonic_ns() - self.started_ns) // 1_000_000,
            "links": [link.stats() for link in self.links.values()],
        }

    def stats_json(self) -> str:
        """``stats()`` as one line of JSON."""
        return json.dumps(self.stats(), separators=(",", ":"), sort_keys=True)

    def summary(self) -> str:
        """Human-readable counters, one line per link and direction."""
        lines = []
        for link in self.links.values():
            for direction in (link.forward, link.reverse):
                s = direction.stats()
                lines.append(
                    f"{link.name} {direction.name:7s} received {s['received']} "
                    f"forwarded {s['forwarded']} dropped: loss {s['dropped_loss']} "
                    f"queue {s['dropped_queue']} outage {s['dropped_outage']} "
                    f"overflow {s['dropped_overflow']} no-peer {s['dropped_no_peer']} "
                    f"send-errors {s['send_errors']}"
                )
        return "\n".join(lines)
