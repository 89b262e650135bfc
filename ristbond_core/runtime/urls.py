"""Parsing the URLs users type: links, listen addresses, inputs and outputs.

Every problem is a ``RistbondError`` whose message quotes the URL and says what is
wrong with it, because these strings come straight from a command line.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from pydantic import ValidationError

from ristbond_core.config.models import LINK_URL, LISTEN_URL, LinkConfig
from ristbond_core.errors import RistbondError
from ristbond_core.runtime.transport_api import LinkEndpoint, ListenEndpoint

#: Query keys of a ``--link`` URL that map onto ``[[links]]`` fields; others are options.
LINK_FIELDS = {"id": "id", "iface": "interface", "interface": "interface",
               "source": "source", "weight": "weight"}


def _port(text: str, url: str, flag: str, *, even: bool) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise RistbondError(f"{flag} {url!r}: port {port} is out of range (1..65535)")
    if even and port % 2:
        raise RistbondError(
            f"{flag} {url!r}: port {port} is odd; RIST uses an even RTP port (RTCP is port + 1)"
        )
    return port


def _unbracket(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def parse_link_url(url: str, default_id: str) -> LinkConfig:
    """``rist://HOST:PORT[?iface=..&weight=..&source=..&id=..]`` as a validated link."""
    match = LINK_URL.match(url)
    if match is None:
        raise RistbondError(
            f"--link {url!r}: expected rist://HOST:PORT[?iface=NAME&weight=W&source=ADDR]"
        )
    _port(match.group("port"), url, "--link", even=True)
    fields: dict[str, object] = {"id": default_id,
                                 "url": f"rist://{match.group('host')}:{match.group('port')}"}
    options: dict[str, str] = {}
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key in LINK_FIELDS:
            fields[LINK_FIELDS[key]] = value
        else:
            options[key] = value
    fields["options"] = options
    try:
        return LinkConfig.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise RistbondError(f"--link {url!r}: {where}: {error['msg']}") from None


def link_endpoint(link: LinkConfig) -> LinkEndpoint:
    """Where a configured link sends to and leaves from."""
    match = LINK_URL.match(link.url)
    if match is None:  # the config model validated it already
        raise RistbondError(f"link {link.id!r}: bad url {link.url!r}")
    return LinkEndpoint(
        link_id=link.id,
        host=_unbracket(match.group("host")),
        port=int(match.group("port")),
        interface=link.interface,
        source=link.source,
        options=dict(link.options),
    )


def parse_listen_url(url: str) -> ListenEndpoint:
    """``rist://@HOST:PORT[?KEY=VALUE...]`` (even port; RTCP on port + 1).

    Query keys are the transport's listen options (librist's ``secret``, ...); the
    transport rejects keys it does not know.
    """
    match = LISTEN_URL.match(url)
    if match is None:
        raise RistbondError(f"--listen {url!r}: expected rist://@HOST:PORT (e.g. rist://@0.0.0.0:5000)")
    port = _port(match.group("port"), url, "--listen", even=True)
    if port == 65535:
        raise RistbondError(f"--listen {url!r}: no room for RTCP on port + 1")
    options = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    return ListenEndpoint(_unbracket(match.group("host")), port, options)


@dataclass(frozen=True, slots=True)
class StreamUrl:
    """An input or output: ``kind`` is udp, file, stdio or testsrc."""

    kind: str
    host: str = ""
    port: int = 0
    path: str = ""
    params: tuple[tuple[str, str], ...] = ()

    def param(self, key: str) -> str | None:
        """The value of a ?key= parameter, if given."""
        return dict(self.params).get(key)

    @property
    def multicast(self) -> bool:
        """Whether ``host`` is a multicast group."""
        try:
            return ipaddress.ip_address(self.host).is_multicast
        except ValueError:
            return False


def parse_stream_url(url: str, role: str) -> StreamUrl:
    """An ``--input`` (role "input") or ``--output`` (role "output") URL."""
    flag = f"--{role}"
    if url == "-":
        return StreamUrl("stdio")
    parts = urlsplit(url)
    params = tuple(parse_qsl(parts.query, keep_blank_values=True))
    if parts.scheme == "file":
        path = (parts.netloc + parts.path) if parts.netloc else parts.path
        if not path:
            raise RistbondError(f"{flag} {url!r}: expected file://PATH")
        return StreamUrl("file", path=path, params=params)
    if parts.scheme == "testsrc" and role == "input":
        return StreamUrl("testsrc", params=params)
    if parts.scheme == "udp":
        netloc = parts.netloc
        if role == "input":
            if not netloc.startswith("@"):
                raise RistbondError(f"{flag} {url!r}: expected udp://@[GROUP]:PORT")
            netloc = netloc[1:]
        host, sep, port_text = netloc.rpartition(":")
        if not sep or not port_text.isdigit():
            raise RistbondError(f"{flag} {url!r}: missing :PORT")
        port = _port(port_text, url, flag, even=False)
        host = _unbracket(host)
        if role == "output" and not host:
            raise RistbondError(f"{flag} {url!r}: expected udp://HOST:PORT")
        return StreamUrl("udp", host=host, port=port, params=params)
    kinds = "udp://@[GROUP]:PORT, file://PATH, testsrc:// or -" if role == "input" else \
        "udp://HOST:PORT, file://PATH or -"
    raise RistbondError(f"{flag} {url!r}: unsupported URL; use {kinds}")
