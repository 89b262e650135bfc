"""A small HTTP server for orchestrators: ``/healthz``, ``/readyz`` and ``/metrics``.

It knows nothing about the runtime: whoever produces stats snapshots calls
``update(snapshot)``, and the probes answer from the last one. ``/healthz`` says the
node is alive (snapshots keep coming), ``/readyz`` says it is doing its job (a sender
has a live link, a receiver is receiving). Binds to loopback unless told otherwise.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ristbond_core.errors import RistbondError

DEFAULT_STALE_AFTER_MS = 5_000
DEFAULT_RECEIVE_WINDOW_MS = 3_000
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One probe's answer: HTTP status and a one-line reason."""

    ok: bool
    reason: str

    @property
    def status(self) -> int:
        """200 when ``ok``, else 503."""
        return 200 if self.ok else 503


def judge_health(
    snapshot: Mapping[str, Any] | None, received_at_ns: int, now_ns: int, stale_after_ms: float
) -> Verdict:
    """Alive when a snapshot arrived within ``stale_after_ms`` and its clock advanced."""
    if snapshot is None:
        return Verdict(False, "no snapshot yet")
    age_ms = (now_ns - received_at_ns) / 1e6
    if age_ms > stale_after_ms:
        return Verdict(False, f"last snapshot is {age_ms:.0f} ms old (limit {stale_after_ms:g})")
    return Verdict(True, f"snapshot seq {snapshot.get('seq')} is {age_ms:.0f} ms old")


def judge_readiness(snapshot: Mapping[str, Any] | None, receive_window_ms: float) -> Verdict:
    """Ready when a sender has a live link, or a receiver got a packet recently."""
    if snapshot is None:
        return Verdict(False, "no snapshot yet")
    links = [link for link in snapshot.get("links") or [] if isinstance(link, Mapping)]
    role = snapshot.get("role")
    if role == "sender":
        live = [str(link.get("id")) for link in links if link.get("state") == "live"]
        if live:
            return Verdict(True, f"live links: {', '.join(live)}")
        states = ", ".join(f"{link.get('id')}={link.get('state')}" for link in links)
        return Verdict(False, f"no live link ({states or 'no links'})")
    if role == "receiver":
        ages = [link.get("last_packet_age_ms") for link in links]
        recent = [
            str(link.get("id")) for link, age in zip(links, ages, strict=True)
            if isinstance(age, (int, float)) and age <= receive_window_ms
        ]
        if recent:
            return Verdict(True, f"receiving on: {', '.join(recent)}")
        return Verdict(False, f"no packet within {receive_window_ms:g} ms on any link")
    return Verdict(False, f"unknown role {role!r}")


class HealthServer:
    """Serves the probes from the last snapshot given to ``update()``, on its own thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        metrics: Callable[[], str] | None = None,
        stale_after_ms: float = DEFAULT_STALE_AFTER_MS,
        receive_window_ms: float = DEFAULT_RECEIVE_WINDOW_MS,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.metrics = metrics
        self.stale_after_ms = stale_after_ms
        self.receive_window_ms = receive_window_ms
        self._clock_ns = clock_ns
        self._lock = threading.Lock()
        self._snapshot: Mapping[str, Any] | None = None
        self._received_at_ns = 0
        self._last_monotonic_ns: int | None = None
        try:
            self._server = ThreadingHTTPServer((host, port), self._handler_class())
        except OSError as exc:
            raise RistbondError(
                f"health server: cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from None
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): the real port when 0 was asked for."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def update(self, snapshot: Mapping[str, Any]) -> None:
        """Take a new snapshot; one whose ``monotonic_ns`` did not advance is not fresh."""
        monotonic_ns = snapshot.get("monotonic_ns")
        with self._lock:
            advanced = (
                self._last_monotonic_ns is None
                or not isinstance(monotonic_ns, int)
                or monotonic_ns > self._last_monotonic_ns
            )
            self._snapshot = snapshot
            if advanced:
                self._received_at_ns = self._clock_ns()
                if isinstance(monotonic_ns, int):
                    self._last_monotonic_ns = monotonic_ns

    def export(self, snapshot: Mapping[str, Any]) -> None:
        """``update`` under the exporter contract, so a dispatcher can feed the server."""
        self.update(snapshot)

    def health(self) -> Verdict:
        """The ``/healthz`` verdict now."""
        with self._lock:
            snapshot, received_at = self._snapshot, self._received_at_ns
        return judge_health(snapshot, received_at, self._clock_ns(), self.stale_after_ms)

    def readiness(self) -> Verdict:
        """The ``/readyz`` verdict now (also fails while not healthy)."""
        health = self.health()
        if not health.ok:
            return health
        with self._lock:
            snapshot = self._snapshot
        return judge_readiness(snapshot, self.receive_window_ms)

    def start(self) -> HealthServer:
        """Serve on a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                name="ristbond-health", daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> HealthServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            """Routes the three paths; anything else is 404."""

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    self._verdict(server.health())
                elif path == "/readyz":
                    self._verdict(server.readiness())
                elif path == "/metrics" and server.metrics is not None:
                    try:
                        text = server.metrics()
                    except Exception as exc:  # a renderer bug is a 500, not a dead server
                        self._send(500, "text/plain; charset=utf-8",
                                   f"metrics renderer failed: {type(exc).__name__}\n")
                        return
                    self._send(200, PROMETHEUS_CONTENT_TYPE, text)
                else:
                    self._send(404, "text/plain; charset=utf-8", "not found\n")

            def _verdict(self, verdict: Verdict) -> None:
                body = json.dumps({"ok": verdict.ok, "reason": verdict.reason}) + "\n"
                self._send(verdict.status, "application/json", body)

            def _send(self, status: int, content_type: str, body: str) -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Probes arrive every few seconds: keep them out of the logs."""

        return Handler
