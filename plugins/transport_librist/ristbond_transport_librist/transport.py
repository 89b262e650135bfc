"""``LibristTransport``: a ``SessionTransport`` whose RIST protocol is librist's.

Sender: one librist peer per link, in the order the links are given; the core's
scheduler shares become librist peer weights. Receiver: one listening peer per listen
endpoint; librist merges the links of a flow (main profile) and hands over payloads
in order through its FIFO, announced on a pipe that ``fileno()`` exposes.

librist is always asked for INFO-level logs, because two INFO lines are the only way
to learn its peer ids ("Advertising ... peer_id N" when a sender peer is created,
"Peer N receiver name is now: CNAME" when a sender link reaches a receiver); lines
below ``options.log_level`` are not forwarded to Python logging.

Sender start-up: a RIST receiver only accepts a flow's packets once the peer handshake
is done, so payloads librist sends before it are lost for good (the receiver never
learns they existed, so it cannot NACK them). The sender therefore holds payloads in a
bounded queue until librist reports a connected peer, then hands them over in order;
see ``LibristTransport.write``.

SRP: librist 0.2.7 only stores a peer URL's ``username``/``password``; the transport
turns SRP on itself (``rist_enable_eap_srp``) right after creating each peer, with the
link's credentials or, on a listen address with an ``srpfile``, with a user table read
from that file before librist starts. librist's log lines about failed log-ins become
one plain error each (``_watch_log``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ristbond_core.contracts import (
    LinkEndpoint,
    ListenEndpoint,
    SessionLinkReport,
    SessionSettings,
)
from ristbond_core.errors import RistbondError
from ristbond_transport_librist import binding
from ristbond_transport_librist.loss_attribution import LossAttributor
from ristbond_transport_librist.options import (
    LibristLinkOptions,
    LibristOptions,
    check_srp,
    listener_url,
    parse_link_options,
    read_srpfile,
    secrets_of,
    sender_url,
)
from ristbond_transport_librist.stats import attributed, parse

logger = logging.getLogger(binding.LOGGER_NAME)

_LOG_LEVELS = {
    "disable": binding.LOG_DISABLE, "error": binding.LOG_ERROR, "warn": binding.LOG_WARN,
    "notice": binding.LOG_NOTICE, "info": binding.LOG_INFO, "debug": binding.LOG_DEBUG,
}
_ADVERTISED_PEER = re.compile(r"Advertising flow_id\s+\d+ and peer_id (\d+)")
_PEER_NAME = re.compile(r"Peer (\d+) receiver name is now: (\S+)")
#: What librist logs when a packet does not decrypt with the configured key.
_UNDECRYPTABLE = re.compile(r"till new NONCE")
#: What librist logs when SRP log-ins fail: on the sender refused by the receiver, on the
#: receiver a wrong password (with ``user@ip``), on a sender lacking credentials.
_SRP_REFUSED = re.compile(r"\[EAP-SRP\] Authentication failed$")
_SRP_WRONG_PASSWORD = re.compile(r"\[EAP-SRP\] Authentication failed for (\S+)@(\S+)")
_SRP_NO_CREDENTIALS = re.compile(r"EAP authentication requested but credentials have not")

#: Reports kept between two ``poll_reports`` calls at most (the oldest are dropped).
REPORT_LIMIT = 1024
#: Payloads held before the first peer connects, at most (the oldest are then released).
HOLD_LIMIT = 10_000
#: Time librist gets to send the first payload on every link before the rest follow
#: (its sender loop runs every 5 ms).
SETTLE_MS = 20
#: Largest payload librist 0.2.7 accepts in one write.
MAX_PAYLOAD = 9968
#: Weight of a link whose share is zero: librist's 0 would mean "duplicate here".
IDLE_WEIGHT = 1
#: Stats intervals per loss-attribution window (and per dither step).
ATTRIBUTION_INTERVALS = 4


@dataclass(slots=True)
class _Link:
    link_id: str
    peer: Any
    peer_id: int | None
    weight: int


def share_weight(share: float) -> int:
    """librist weight for a share of traffic: ~percent, never 0 (0 means duplicate)."""
    if share <= 0.0:
        return IDLE_WEIGHT
    return max(1, round(share * 100))


def check_address(host: str, port: int, what: str) -> None:
    """Fail early on what librist would only log: librist accepts unresolvable hosts and
    out-of-range ports in peer URLs and then fails silently on its own threads."""
    if not 1 <= port <= 65_535:
        raise RistbondError(f"{what}: port {port} is outside 1-65535")
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RistbondError(f"{what}: cannot resolve host {host!r}: {exc}") from None


def check_port_free(host: str, port: int, what: str) -> None:
    """Fail when the listen port is taken: librist binds with address reuse, so a second
    listener on a busy port would silently share (and steal) its traffic."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise RistbondError(f"{what}: cannot listen: {exc.strerror}") from None


class LibristTransport:
    """Runs a librist sender or receiver session for the core (``SessionTransport``)."""

    def __init__(self, options: LibristOptions, *, library_name: str | None = None) -> None:
        self.options = options
        self._library_name = library_name
        self._context: binding.LibristContext | None = None
        self._settings: SessionSettings | None = None
        self._links: dict[str, _Link] = {}
        self._peer_links: dict[int, str] = {}
        self._listen_peers: list[Any] = []
        self._notify: tuple[int, int] | None = None
        self._reports: deque[SessionLinkReport] = deque(maxlen=REPORT_LIMIT)
        self._forward_level = _LOG_LEVELS[options.log_level]
        self._advertised_peer: int | None = None
        self._closed = False
        # SRP failure messages already logged (each is logged once per session).
        self._srp_reported: set[str] = set()
        self.counters: dict[str, int] = {
            "payloads_written": 0, "bytes_written": 0, "payloads_read": 0, "bytes_read": 0,
            "discontinuities": 0, "stats_reports": 0, "stats_unparsed": 0,
            "weight_changes": 0, "held_total": 0, "held_forced": 0,
        }
        # Sender start-up hold (see ``write``): (hold time ns, payload), oldest first.
        self._held: deque[tuple[int, bytes]] = deque()
        self._holding = True
        self._first_sent_ns: int | None = None
        self._weights_restored = False
        # Cumulative sums of librist's per-interval numbers, per link id.
        self._link_totals: dict[str, dict[str, float]] = {}
        # Cumulative sums of the receiver flow's per-interval numbers (``flow_*``).
        self._flow_totals: dict[str, float] = {}
        # Sender: per-link loss from the flow's retransmissions, and the split it varies.
        interval_ns = options.stats_interval_ms * 1_000_000
        self._attribution = LossAttributor(ATTRIBUTION_INTERVALS * interval_ns,
                                           report_span_ns=interval_ns)
        self._base_shares: dict[str, float] | None = None
        self._duplicate = False

    # -- starting -----------------------------------------------------------------------

    def _profile(self) -> int:
        return binding.PROFILE_MAIN if self.options.profile == "main" else binding.PROFILE_SIMPLE

    def _new_context(self, *, sender: bool, flow_id: int, secrets: Sequence[str]) -> None:
        if self._context is not None or self._closed:
            raise RistbondError("librist transport: a session was already started on it")
        self._context = binding.LibristContext(
            sender=sender, profile=self._profile(), flow_id=flow_id,
            log_level=max(binding.LOG_INFO, self._forward_level), secrets=secrets,
            library_name=self._library_name)

    def start_sender(self, settings: SessionSettings, links: Sequence[LinkEndpoint]) -> None:
        """Create the sender context, one peer per link (equal weights), and start it."""
        parsed = [(link, self._link_options(link)) for link in links]
        if not parsed:
            raise RistbondError("librist transport: a sender needs at least one link")
        ids = [link.link_id for link in links]
        if len(set(ids)) != len(ids):
            raise RistbondError(f"librist transport: duplicate link ids in {ids}")
        self._settings = settings
        flow_id = settings.flow_id & ~1 if settings.flow_id else binding.new_flow_id()
        secrets = [s for _, opts in parsed for s in secrets_of(opts)]
        self._new_context(sender=True, flow_id=flow_id, secrets=secrets)
        try:
            for link, opts in parsed:
                self._create_link(link, opts)
            self._prime_weights()
            self._ctx().connection_status_callback_set()
            self._ctx().stats_callback_set(self.options.stats_interval_ms)
            self._ctx().start()
        except BaseException:
            self.close()
            raise
        self._forward_logs()

    def start_receiver(self, settings: SessionSettings,
                       listen: Sequence[ListenEndpoint]) -> None:
        """Create the receiver context listening on every endpoint, with a notify pipe."""
        if not listen:
            raise RistbondError("librist transport: a receiver needs at least one listen address")
        parsed = []
        srp_users: dict[int, dict[bytes, tuple[bytes, bytes]]] = {}
        for index, endpoint in enumerate(listen):
            what = f"listen address {endpoint.host}:{endpoint.port}"
            check_address(endpoint.host, endpoint.port, what)
            check_port_free(endpoint.host, endpoint.port, what)
            opts = parse_link_options(endpoint.options, what)
            self._check_srp(opts, listening=True, what=what)
            if opts.srpfile is not None:
                srp_users[index] = {name.encode(): (entry.verifier, entry.salt)
                                    for name, entry in read_srpfile(opts.srpfile).items()}
            parsed.append((endpoint, opts))
        self._settings = settings
        secrets = [s for _, opts in parsed for s in secrets_of(opts)]
        self._new_context(sender=False, flow_id=0, secrets=secrets)
        try:
            ctx = self._ctx()
            for index, (endpoint, opts) in enumerate(parsed):
                url = listener_url(endpoint.host, endpoint.port, opts,
                                   latency_ms=settings.latency_ms)
                shown = listener_url(endpoint.host, endpoint.port, opts,
                                     latency_ms=settings.latency_ms, mask=True)
                peer = ctx.peer_create(url, shown)
                self._listen_peers.append(peer)
                if opts.srpfile is not None:
                    ctx.enable_srp_verifiers(peer, srp_users[index], opts.srpfile)
                else:
                    self._enable_srp_credentials(peer, opts)
            ctx.nack_type_set(binding.NACK_RANGE if self.options.nack_type == "range"
                              else binding.NACK_BITMASK)
            read_fd, write_fd = os.pipe()
            self._notify = (read_fd, write_fd)
            os.set_blocking(read_fd, False)
            os.set_blocking(write_fd, False)
            ctx.notify_fd_set(write_fd)
            ctx.connection_status_callback_set()
            ctx.stats_callback_set(self.options.stats_interval_ms)
            ctx.start()
        except BaseException:
            self.close()
            raise
        self._forward_logs()

    def _prime_weights(self) -> None:
        """Start every peer in duplicate mode (weight 0) until the first payload is out.

        Two librist 0.2.7 behaviours lose the first payload otherwise: weighted peers
        start with no balancing credit, so payload 0 consumes sequence number 0 but goes
        to no peer; and with several links, a receiver whose flow starts from whichever
        packet it processes first drops an earlier sequence number arriving later on
        another link. Sent on every link, payload 0 precedes later payloads on each of
        them. ``_restore_weights`` puts the real weights back ``SETTLE_MS`` later.
        """
        ctx = self._ctx()
        for link in self._links.values():
            ctx.peer_weight_set(link.peer, 0)

    def _restore_weights(self, ctx: binding.LibristContext) -> None:
        """Give the peers their recorded weights once the first payload had time to go."""
        self._weights_restored = True
        for link in self._links.values():
            if link.weight != 0:
                ctx.peer_weight_set(link.peer, link.weight)

    def _ctx(self) -> binding.LibristContext:
        if self._context is None or self._closed:
            raise RistbondError("librist transport: no running session (start it first)")
        return self._context

    def _link_options(self, link: LinkEndpoint) -> LibristLinkOptions:
        what = f"link {link.link_id!r}"
        check_address(link.host, link.port, what)
        if link.interface is not None or link.source is not None:
            raise RistbondError(
                f"{what}: the librist transport cannot bind a link to an interface or "
                "source address (librist 0.2 has no such peer setting); route the "
                "destination through the wanted interface instead"
            )
        opts = parse_link_options(link.options, what)
        self._check_srp(opts, listening=False, what=what)
        return opts

    def _check_srp(self, opts: LibristLinkOptions, *, listening: bool, what: str) -> None:
        """Refuse SRP keys the profile or the installed librist cannot honour, before
        librist is started (librist would only return a bare error code later)."""
        check_srp(opts, profile=self.options.profile, listening=listening, what=what)
        keys = opts.srp_keys()
        if keys and not binding.srp_available(self._library_name):
            raise RistbondError(
                f"{what}: option {keys[0]!r}: SRP is not available in the installed "
                f"librist ({binding.LIBRARY_NAME} has no rist_enable_eap_srp; it was "
                "built without SRP support)")

    def _enable_srp_credentials(self, peer: Any, opts: LibristLinkOptions) -> None:
        """Turn SRP on for a peer whose link has a user name and password."""
        if opts.username is not None and opts.password is not None:
            self._ctx().enable_srp_credentials(peer, opts.username,
                                               opts.password.get_secret_value())

    def _create_link(self, link: LinkEndpoint, opts: LibristLinkOptions) -> None:
        ctx = self._ctx()
        assert self._settings is not None
        weight = self.options.initial_weight
        latency_ms = self._settings.latency_ms
        url = sender_url(link.host, link.port, opts, latency_ms=latency_ms,
                         cname=link.link_id, weight=weight)
        shown = sender_url(link.host, link.port, opts, latency_ms=latency_ms,
                           cname=link.link_id, weight=weight, mask=True)
        self._forward_logs()
        self._advertised_peer = None
        peer = ctx.peer_create(url, shown)
        self._enable_srp_credentials(peer, opts)
        self._forward_logs()
        peer_id = self._advertised_peer
        self._links[link.link_id] = _Link(link.link_id, peer, peer_id, weight)
        if peer_id is not None:
            self._peer_links[peer_id] = link.link_id

    # -- run time: links and weights ----------------------------------------------------

    def add_link(self, endpoint: LinkEndpoint) -> None:
        """Add a sender peer to the running session (weight ``initial_weight``)."""
        ctx = self._ctx()
        if not ctx.is_sender:
            raise RistbondError("librist transport: add_link is for a sender session")
        if endpoint.link_id in self._links:
            raise RistbondError(f"link {endpoint.link_id!r} already exists")
        opts = self._link_options(endpoint)
        ctx.sink.add_secrets(secrets_of(opts))
        self._create_link(endpoint, opts)

    def remove_link(self, link_id: str) -> None:
        """Destroy a sender peer (unknown ids are ignored)."""
        link = self._links.pop(link_id, None)
        self._attribution.remove_link(link_id)
        if link is None or self._context is None or self._closed:
            return
        self._context.peer_destroy(link.peer)
        # The peer id stays mapped: reports already queued for it still name the link.

    def apply_shares(self, shares: Mapping[str, float], *,
                     duplicate: bool = False) -> Mapping[str, int]:
        """Set librist weights from shares (~percent; 0 everywhere to duplicate).

        A link missing from ``shares`` or with share 0 gets weight 1 (librist's weight 0
        would *duplicate* onto it). Only changed weights are sent to librist. Returns
        the weights for ``shares`` themselves; while the flow shows loss, the weights
        librist gets vary around them window by window (``LossAttributor.dither``), and
        ``stats()["applied_weights"]`` shows the current ones.
        """
        self._ctx()  # a clear error before the session started
        self._base_shares = {key: float(value) for key, value in shares.items()}
        self._duplicate = duplicate
        self._apply_weights(time.monotonic_ns())
        return {link.link_id: 0 if duplicate else share_weight(self._base_shares.get(
            link.link_id, 0.0)) for link in self._links.values()}

    def _apply_weights(self, now_ns: int) -> None:
        """Give librist the weights for the base shares, dithered for this window."""
        if self._base_shares is None or self._context is None or self._closed:
            return
        ctx = self._context
        shares = ({} if self._duplicate
                  else self._attribution.dither(self._base_shares, now_ns))
        for link in self._links.values():
            weight = 0 if self._duplicate else share_weight(shares.get(link.link_id, 0.0))
            if weight != link.weight:
                if self._weights_restored:  # else ``_restore_weights`` applies it
                    ctx.peer_weight_set(link.peer, weight)
                link.weight = weight
                self.counters["weight_changes"] += 1

    # -- data ---------------------------------------------------------------------------

    def write(self, payload: bytes) -> None:
        """Queue one payload; librist copies it and schedules it over the peers.

        Until a peer is connected the payload is held here instead (librist would put
        it on the wire, and the receiver, not yet through the handshake, would drop it
        without ever NACKing it). Holding ends for good once every link's peer reported
        connected, so that no early payload goes out on a link still in its handshake
        (``HOLD_LIMIT`` and ``latency_ms`` still bound the wait if a link never
        connects). Held payloads then go to librist in order and
        later writes go straight through. A later
        connection loss (TIMED_OUT) does not hold again: librist keeps the flow's
        sequence numbers and retry buffer across it and recovers by itself, and holding
        mid-stream would only add delay.
        """
        ctx = self._ctx()
        if ctx.is_sender and len(payload) > MAX_PAYLOAD:
            # Checked here because a held payload would only fail later, on release.
            raise binding.LibristError(
                "rist_sender_data_write", -1,
                f"payload of {len(payload)} bytes, max is {MAX_PAYLOAD}")
        self._release_held(ctx)
        if self._holding:
            self._held.append((time.monotonic_ns(), payload))
            self.counters["held_total"] += 1
            self._enforce_hold_bounds(ctx)
        else:
            self._hand_over(ctx, payload)
        self.counters["payloads_written"] += 1
        self.counters["bytes_written"] += len(payload)

    def _peer_connected(self, ctx: binding.LibristContext) -> bool:
        """Whether a peer reached the receiver: librist's connection callback, or (if a
        profile never calls it) a stats report showing a peer received something."""
        connected = sum(1 for status in ctx.sink.peer_statuses().values()
                        if status in binding.CONNECTED_STATUSES)
        if connected >= len(self._links):
            self._holding = False
        return not self._holding

    def _release_held(self, ctx: binding.LibristContext) -> None:
        """Once a peer is connected, hand every held payload to librist, oldest first.

        A payload leaves the queue only after librist accepted it, so a failed write
        keeps it (and its order) for the next attempt.
        """
        if not ctx.is_sender or not self._peer_connected(ctx):
            return
        while self._held:
            self._hand_over(ctx, self._held[0][1])
            self._held.popleft()
        self._settle(ctx)

    def _hand_over(self, ctx: binding.LibristContext, payload: bytes) -> None:
        """Write to librist, noting when the first payload went."""
        ctx.write(payload)
        if self._first_sent_ns is None:
            self._first_sent_ns = time.monotonic_ns()

    def _settle(self, ctx: binding.LibristContext) -> None:
        """Restore the weights once the first payload had ``SETTLE_MS`` to go out on
        every link. Until then every payload is duplicated, which keeps each link in
        order behind payload 0 (the receiver removes the duplicates)."""
        if self._weights_restored or self._first_sent_ns is None:
            return
        if time.monotonic_ns() - self._first_sent_ns >= SETTLE_MS * 1_000_000:
            self._restore_weights(ctx)

    def _enforce_hold_bounds(self, ctx: binding.LibristContext) -> None:
        """Release the oldest held payloads to librist past either bound.

        Bounds: a payload is held at most ``settings.latency_ms`` (after that it is
        late for the receiver's buffer anyway) and at most ``HOLD_LIMIT`` payloads are
        held, so memory stays bounded when no receiver answers. Past a bound the oldest
        payloads are *written*, not dropped: that degrades to plain librist behaviour
        (which delivers them if the handshake completes meanwhile) instead of losing
        them for certain; ``held_forced`` counts them.
        """
        if not self._held:
            return
        assert self._settings is not None
        oldest_allowed = time.monotonic_ns() - self._settings.latency_ms * 1_000_000
        while self._held and (len(self._held) > HOLD_LIMIT
                              or self._held[0][0] <= oldest_allowed):
            self._hand_over(ctx, self._held[0][1])
            self._held.popleft()
            self.counters["held_forced"] += 1

    def _service_hold(self) -> None:
        """Flush or bound the start-up hold (called from ``poll_reports``/``stats``)."""
        if self._held and self._context is not None and not self._closed:
            self._release_held(self._context)
            self._enforce_hold_bounds(self._context)

    def read(self, max_count: int) -> Sequence[bytes]:
        """Up to ``max_count`` delivered payloads in order; never waits."""
        ctx = self._ctx()
        if self._notify is not None:
            # Empty the wake-up pipe; the payloads themselves are read below.
            with contextlib.suppress(BlockingIOError):
                while os.read(self._notify[0], 65_536):
                    pass
        out: list[bytes] = []
        while len(out) < max_count:
            item = ctx.read()
            if item is None:
                break
            payload, flags = item
            if flags & 1:  # RIST_DATA_FLAGS_DISCONTINUITY
                self.counters["discontinuities"] += 1
            out.append(payload)
        if len(out) == max_count and self._notify is not None:
            # More may be queued: keep the descriptor readable for the next round.
            with contextlib.suppress(BlockingIOError):
                os.write(self._notify[1], b"\0")
        self.counters["payloads_read"] += len(out)
        self.counters["bytes_read"] += sum(len(p) for p in out)
        return out

    def fileno(self) -> int | None:
        """The notify pipe's read end (receiver), None for a sender."""
        return None if self._notify is None or self._closed else self._notify[0]

    # -- reports and stats --------------------------------------------------------------

    def _forward_logs(self) -> None:
        sinks = [binding.orphan_sink]
        if self._context is not None:
            sinks.insert(0, self._context.sink)
            unknown = self._context.sink.srp_unknown_users
            while unknown:
                try:
                    user, source = unknown.popleft()
                except IndexError:
                    break
                self._srp_failure(f"SRP log-in refused: user {user!r} is not in the "
                                  f"srpfile {source} (nothing from it is delivered)")
        for sink in sinks:
            while sink.logs:
                try:
                    level, text = sink.logs.popleft()
                except IndexError:
                    break
                self._watch_log(text)
                if level <= self._forward_level:
                    logger.log(binding.python_level(level), "librist: %s", text)

    def _srp_failure(self, message: str) -> None:
        """Count an SRP log-in failure and log each distinct message once per session
        (librist retries a log-in every few hundred milliseconds)."""
        self.counters["srp_failures"] = self.counters.get("srp_failures", 0) + 1
        if message not in self._srp_reported:
            self._srp_reported.add(message)
            logger.error("librist: %s", message)

    def _watch_srp(self, text: str) -> bool:
        """Turn librist's SRP failure lines into plain errors; True if ``text`` was one."""
        if _SRP_REFUSED.search(text):
            self._srp_failure("SRP log-in refused by the receiver: wrong username or "
                              "password (nothing is delivered on that link)")
            return True
        wrong = _SRP_WRONG_PASSWORD.search(text)
        if wrong is not None:
            self._srp_failure(f"SRP log-in of user {wrong.group(1)!r} from {wrong.group(2)} "
                              "failed: wrong password (nothing from it is delivered)")
            return True
        if _SRP_NO_CREDENTIALS.search(text):
            self._srp_failure("the receiver requires SRP: give the link 'username' and "
                              "'password' (nothing is delivered on that link)")
            return True
        return False

    def _watch_log(self, text: str) -> None:
        if self._watch_srp(text):
            return
        if _UNDECRYPTABLE.search(text):
            # librist reports a key mismatch only as a malformed packet after decryption
            # ("... till new NONCE"); say what it most likely means, once per session.
            self.counters["undecryptable"] = self.counters.get("undecryptable", 0) + 1
            if self.counters["undecryptable"] == 1:
                logger.error("librist: packets arrive that cannot be decrypted: wrong secret "
                             "or aes-type on one side (nothing from them is delivered)")
            return
        found = _ADVERTISED_PEER.search(text)
        if found is not None:
            self._advertised_peer = int(found.group(1))
            return
        named = _PEER_NAME.search(text)
        if named is not None and self._context is not None and not self._context.is_sender:
            self._peer_links[int(named.group(1))] = named.group(2)

    def _drain_stats(self) -> None:
        self._forward_logs()
        if self._context is None:
            return
        queue = self._context.sink.stats
        while queue:
            try:
                measured_ns, text = queue.popleft()
            except IndexError:
                break
            if self._holding and self._context.is_sender and peer_replied(text):
                self._holding = False  # fallback when no connection callback came
            parsed = parse(text, measured_ns, self._peer_links.get,
                           self.options.stats_interval_ms)
            self.counters["stats_reports"] += 1
            if not parsed.reports:
                self.counters["stats_unparsed"] += 1
            for key, value in parsed.flow_counters.items():
                self._flow_totals[key] = self._flow_totals.get(key, 0.0) + value
            for raw in parsed.reports:
                report = self._attribute(raw) if self._context.is_sender else raw
                self._reports.append(report)
                totals = self._link_totals.setdefault(report.link_id, {})
                for key in ("sent", "retransmitted", "received", "received_data",
                            "received_rtcp", "sent_rtcp"):
                    if key in report.counters:
                        totals[key] = totals.get(key, 0.0) + report.counters[key]

    def _attribute(self, report: SessionLinkReport) -> SessionLinkReport:
        """Feed a sender report to the loss attribution; the report with its link's loss."""
        counters = report.counters
        self._attribution.observe(report.link_id, report.measured_ns,
                                  counters.get("originals", 0.0),
                                  counters.get("retransmitted_packets", 0.0))
        return attributed(report, self._attribution.loss(report.link_id))

    def poll_reports(self) -> Sequence[SessionLinkReport]:
        """Per-link reports parsed from librist's stats since the last poll."""
        self._drain_stats()
        self._service_hold()
        self._apply_weights(time.monotonic_ns())
        out = list(self._reports)
        self._reports.clear()
        return out

    def stats(self) -> dict[str, Any]:
        """Cumulative counters, per-link sums of librist's numbers, weights and errors.

        ``held_payloads`` is the start-up hold's current size, ``held_total`` how many
        payloads were ever held, ``held_forced`` how many were released before a peer
        connected (a bound was hit), ``connected_peers`` how many librist peers last
        reported a connected status.
        """
        self._drain_stats()
        self._service_hold()
        sink = self._context.sink if self._context is not None else None
        statuses = sink.peer_statuses() if sink else {}
        return {
            **self.counters,
            "librist_version": binding.librist_version(),
            "profile": self.options.profile,
            "applied_weights": {link.link_id: link.weight for link in self._links.values()},
            "loss_attribution": (self._attribution.stats()
                                 if sink is not None and self._context is not None
                                 and self._context.is_sender else None),
            "links": {link_id: dict(values) for link_id, values in self._link_totals.items()},
            "flow": dict(self._flow_totals),
            "callback_errors": (sink.callback_errors if sink else 0)
                               + binding.orphan_sink.callback_errors,
            "last_librist_error": sink.last_error if sink else None,
            "held_payloads": len(self._held),
            "connected_peers": sum(1 for status in statuses.values()
                                   if status in binding.CONNECTED_STATUSES),
            "connection_events": sink.connection_events if sink else 0,
            "collected_at_ns": time.monotonic_ns(),
        }

    def close(self) -> None:
        """Destroy the librist context and the notify pipe (idempotent)."""
        if self._closed:
            return
        self._closed = True
        context, self._context = self._context, None
        try:
            if context is not None:
                context.close()
        finally:
            if self._notify is not None:
                for fd in self._notify:
                    os.close(fd)
                self._notify = None
            if context is not None:
                self._context = context  # keep its sink for a last stats() read
            self._links.clear()


def peer_replied(stats_json: str) -> bool:
    """Whether a sender stats report shows its peer received something from the receiver
    (RTCP replies only come after the handshake)."""
    try:
        document = json.loads(stats_json)
        received = document["sender-stats"]["peer"]["stats"]["received"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(received, int | float) and not isinstance(received, bool) \
        and received > 0


def make_librist_transport(options: LibristOptions) -> LibristTransport:
    """Factory registered under the name ``librist``."""
    return LibristTransport(options)
