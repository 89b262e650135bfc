"""Live control of a running relay: a tiny text protocol over UDP, and POSIX signals.

One command per datagram, answered with one datagram to the sender:

* ``down LINK|all [forward|reverse|both]`` — start an outage (everything dropped)
* ``up LINK|all [forward|reverse|both]`` — end it
* ``set LINK|all [forward|reverse|both] key=value ...`` — e.g. ``set lte loss=5% delay=80ms``
* ``stats`` — the relay's counters as one JSON line

Replies are ``ok``, ``error: <why>`` or the JSON line. A command-line user can drive it
with any UDP tool; tests call ``execute`` directly.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import socket
from typing import cast

from ristbond_core.errors import RistbondError
from ristbond_core.relay.link import DirectionName, RelayLink
from ristbond_core.relay.relay import Relay
from ristbond_core.relay.sockets import resolve, udp_socket

MAX_COMMAND_BYTES = 4096
COMMANDS_PER_WAKEUP = 32
_DIRECTIONS = ("forward", "reverse", "both")


def execute(relay: Relay, command: str) -> str:
    """Run one control command and return its reply; never raises for a bad command."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        return f"error: {exc}"
    if not words:
        return "error: empty command (try: down LINK, up LINK, set LINK key=value, stats)"
    verb, rest = words[0].lower(), words[1:]
    try:
        if verb == "stats":
            return relay.stats_json()
        if verb in ("up", "down", "set"):
            links, which, rest = _target(relay, rest)
            if verb == "set":
                _apply_settings(links, which, rest)
            elif rest:
                return f"error: unexpected {rest[0]!r} after {verb}"
            else:
                for link in links:
                    link.set_up(verb == "up", which)
            return "ok"
    except RistbondError as exc:
        return f"error: {exc}"
    return f"error: unknown command {verb!r} (down, up, set, stats)"


def _target(relay: Relay, words: list[str]) -> tuple[list[RelayLink], DirectionName, list[str]]:
    if not words:
        raise RistbondError("name a link or 'all'")
    name, rest = words[0], words[1:]
    links = list(relay.links.values()) if name == "all" else [relay.link(name)]
    which: DirectionName = "both"
    if rest and rest[0] in _DIRECTIONS:
        which = cast(DirectionName, rest[0])
        rest = rest[1:]
    return links, which, rest


def _apply_settings(links: list[RelayLink], which: DirectionName, words: list[str]) -> None:
    if not words:
        raise RistbondError("set needs key=value pairs, e.g. loss=5% delay=40ms")
    settings: dict[str, object] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise RistbondError(f"expected key=value, got {word!r}")
        settings[key] = _typed(value)
    for link in links:
        link.update(which, **settings)


def _typed(value: str) -> object:
    """Booleans and plain numbers as such (for raw model fields); everything else as text."""
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


class ControlPort:
    """A UDP socket served by the relay loop that answers control commands."""

    def __init__(self, relay: Relay, host: str, port: int) -> None:
        family, address = resolve(host, port, "--control")
        self.relay = relay
        self.sock = udp_socket(family, address, "--control")
        relay.add_reader(self.sock, self._on_readable)

    @property
    def address(self) -> tuple[str, int]:
        """Where the port listens (useful when bound to port 0)."""
        host, port = self.sock.getsockname()[:2]
        return str(host), int(port)

    def _on_readable(self, now_ns: int) -> None:
        for _ in range(COMMANDS_PER_WAKEUP):
            try:
                data, source = self.sock.recvfrom(MAX_COMMAND_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            reply = execute(self.relay, data.decode("utf-8", errors="replace").strip())
            # A reply that cannot go back changes nothing.
            with contextlib.suppress(OSError):
                self.sock.sendto(reply.encode("utf-8"), source)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def install_signal_handlers(relay: Relay) -> None:
    """SIGUSR1 takes every link down, SIGUSR2 brings them back; SIGTERM/SIGINT stop.

    Signal handlers run in the main thread, so call this only where ``relay.run`` runs.
    """
    signal.signal(signal.SIGUSR1, lambda *_: relay.set_all_up(False))
    signal.signal(signal.SIGUSR2, lambda *_: relay.set_all_up(True))
    signal.signal(signal.SIGTERM, lambda *_: relay.request_stop())
    signal.signal(signal.SIGINT, lambda *_: relay.request_stop())


def send_command(address: tuple[str, int], command: str, timeout_s: float = 2.0) -> str:
    """Send one command to a control port and wait for its reply (for scripts and tests)."""
    family, resolved = resolve(address[0], address[1], "--control")
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_s)
        sock.sendto(command.encode("utf-8"), resolved)
        try:
            reply, _ = sock.recvfrom(65535)
        except TimeoutError:
            raise RistbondError(f"no reply from the control port {address[0]}:{address[1]}"
                                ) from None
    return reply.decode("utf-8", errors="replace")
