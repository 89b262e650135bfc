"""``json-udp`` exporter: each stats snapshot as JSON in UDP datagrams, never blocking.

A monitoring host (``ristbond stats --listen``) or any log shipper can listen on a
UDP port and see every node's snapshots without the node waiting for it: the socket
is non-blocking and a failed send is counted, never raised.

A snapshot larger than ``max_datagram_bytes`` is **split by links**: every part is a
complete snapshot header (role, seq, clocks, derived, flow) carrying a subset of the
links plus ``"part": {"index": i, "count": n}``; a reader merges parts with the same
``(role, seq)``. A single link too large for a datagram on its own is dropped from the
part and counted in ``links_trimmed`` (the part names it in ``"trimmed_links"``); a
snapshot whose header alone does not fit is not sent and counts in ``oversize_dropped``.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ristbond_core.config.redact import redact
from ristbond_core.errors import RistbondError

# IPv4 headers leave 65507 bytes of UDP payload; a datagram bigger than that cannot exist.
MAX_UDP_PAYLOAD = 65_507
ADDRESS = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]+)):(?P<port>\d{1,5})$")


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` → (host, port); raises ``ValueError`` otherwise."""
    match = ADDRESS.match(text.strip())
    if match is None:
        raise ValueError(f"expected HOST:PORT (e.g. 127.0.0.1:9000), got {text!r}")
    port = int(match.group("port"))
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range 1..65535")
    return match.group("v6") or match.group("host"), port


class JsonUdpOptions(BaseModel):
    """Options of the ``json-udp`` exporter (``[telemetry.options.json-udp]``)."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field("127.0.0.1:9000", description="HOST:PORT to send snapshots to")
    max_datagram_bytes: int = Field(
        8192, ge=512, le=MAX_UDP_PAYLOAD,
        description="largest datagram sent; bigger snapshots are split by links",
    )

    @field_validator("address")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        parse_address(value)
        return value


@dataclass(slots=True)
class JsonUdpCounters:
    """What the exporter did, cumulative since it was created."""

    snapshots: int = 0
    datagrams_sent: int = 0
    bytes_sent: int = 0
    send_errors: int = 0
    snapshots_split: int = 0
    links_trimmed: int = 0
    oversize_dropped: int = 0
    encode_errors: int = 0


def _encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode("utf-8")


def encode_snapshot(snapshot: Mapping[str, Any], max_bytes: int) -> tuple[list[bytes], int]:
    """The datagrams carrying ``snapshot`` and how many links had to be trimmed.

    One datagram when it fits; otherwise parts, each a full header with as many links
    as fit (greedy, in link order).
    """
    whole = _encode(snapshot)
    if len(whole) <= max_bytes:
        return [whole], 0
    links = list(snapshot.get("links") or [])
    header = {k: v for k, v in snapshot.items() if k != "links"}
    # Reserve room for the part marker with the widest numbers it can hold.
    marker_room = len(_encode({"part": {"index": 99999, "count": 99999},
                                "trimmed_links": ["x" * 64]}))
    budget = max_bytes - marker_room
    groups: list[list[Any]] = []
    trimmed: list[list[str]] = []
    current: list[Any] = []
    current_trimmed: list[str] = []
    for link in links:
        if len(_encode({**header, "links": [link]})) > budget:
            current_trimmed.append(str(link.get("id", "?")) if isinstance(link, dict) else "?")
            continue
        if current and len(_encode({**header, "links": [*current, link]})) > budget:
            groups.append(current)
            trimmed.append(current_trimmed)
            current, current_trimmed = [], []
        current.append(link)
    groups.append(current)
    trimmed.append(current_trimmed)
    count = len(groups)
    datagrams: list[bytes] = []
    for index, (group, dropped) in enumerate(zip(groups, trimmed, strict=True)):
        part: dict[str, Any] = {**header, "links": group, "part": {"index": index, "count": count}}
        if dropped:
            # Only the first 8 ids are named: the list itself must not overflow.
            part["trimmed_links"] = [i[:64] for i in dropped[:8]]
        data = _encode(part)
        if len(data) > max_bytes:
            # The header alone (derived + flow) is too large: nothing sensible to send.
            return [], len(links)
        datagrams.append(data)
    return datagrams, sum(len(d) for d in trimmed)


class JsonUdpExporter:
    """Sends each snapshot (secrets redacted) to one UDP address without blocking."""

    def __init__(self, options: JsonUdpOptions) -> None:
        host, port = parse_address(options.address)
        self.max_datagram_bytes = options.max_datagram_bytes
        self.counters = JsonUdpCounters()
        try:
            # Resolved once here, so export() never waits for a name lookup.
            family, _, _, _, sockaddr = socket.getaddrinfo(
                host, port, type=socket.SOCK_DGRAM
            )[0]
        except (OSError, UnicodeError) as exc:
            raise RistbondError(
                f"telemetry.options.json-udp.address: cannot resolve {options.address!r}: {exc}"
            ) from None
        self.destination: tuple[Any, ...] = sockaddr
        self._socket = socket.socket(family, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    def export(self, snapshot: Mapping[str, Any]) -> None:
        """Encode and send; every failure becomes a counter, never an exception."""
        self.counters.snapshots += 1
        try:
            datagrams, trimmed = encode_snapshot(redact(dict(snapshot)), self.max_datagram_bytes)
        except (TypeError, ValueError):
            self.counters.encode_errors += 1
            return
        if not datagrams:
            self.counters.oversize_dropped += 1
            return
        self.counters.links_trimmed += trimmed
        if len(datagrams) > 1:
            self.counters.snapshots_split += 1
        for data in datagrams:
            try:
                self._socket.sendto(data, self.destination)
            except OSError:
                # Full socket buffer (EAGAIN), no route, ICMP port-unreachable echo...
                self.counters.send_errors += 1
                continue
            self.counters.datagrams_sent += 1
            self.counters.bytes_sent += len(data)

    def close(self) -> None:
        """Release the socket."""
        self._socket.close()


def make_json_udp(options: JsonUdpOptions) -> JsonUdpExporter:
    """Factory registered under the name ``json-udp``."""
    return JsonUdpExporter(options)


class SnapshotAssembler:
    """Rebuilds whole snapshots from ``json-udp`` datagrams (the reader's side of the split).

    Parts of one snapshot share ``(source, role, seq)``. Only a few snapshots are kept
    pending per source, so a lost part costs bounded memory: the incomplete snapshot is
    dropped (counted in ``incomplete``) when newer ones push it out.
    """

    def __init__(self, max_pending: int = 8) -> None:
        self.max_pending = max_pending
        self._pending: dict[tuple[str, str, int], dict[int, dict[str, Any]]] = {}
        self.malformed = 0
        self.incomplete = 0

    def feed(self, data: bytes, source: str = "") -> dict[str, Any] | None:
        """The complete snapshot ``data`` finishes, or None (a part, or garbage: counted)."""
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self.malformed += 1
            return None
        if not isinstance(document, dict) or not isinstance(document.get("links", []), list):
            self.malformed += 1
            return None
        part = document.pop("part", None)
        if part is None:
            return document
        try:
            index, count = int(part["index"]), int(part["count"])
            key = (source, str(document.get("role")), int(document.get("seq", 0)))
        except (KeyError, TypeError, ValueError):
            self.malformed += 1
            return None
        if not 0 <= index < count <= 4096:
            self.malformed += 1
            return None
        parts = self._pending.setdefault(key, {})
        parts[index] = document
        if len(parts) == count:
            del self._pending[key]
            return self._join([parts[i] for i in range(count)])
        while len(self._pending) > self.max_pending:
            del self._pending[next(iter(self._pending))]
            self.incomplete += 1
        return None

    @staticmethod
    def _join(parts: list[dict[str, Any]]) -> dict[str, Any]:
        whole = {k: v for k, v in parts[0].items() if k != "trimmed_links"}
        whole["links"] = [link for part in parts for link in part.get("links", [])]
        trimmed = [i for part in parts for i in part.get("trimmed_links", [])]
        if trimmed:
            whole["trimmed_links"] = trimmed
        return whole
