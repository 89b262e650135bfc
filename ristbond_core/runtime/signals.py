"""SIGINT/SIGTERM (stop) and SIGHUP (reload) as flags the loop polls.

Handlers only set flags; a socketpair registered with ``signal.set_wakeup_fd``
wakes the loop's ``select`` at once instead of at its next timeout.
"""

from __future__ import annotations

import contextlib
import signal
import socket
from types import FrameType, TracebackType


class SignalFlags:
    """Counts stop requests and remembers a pending reload; a context manager."""

    def __init__(self) -> None:
        self.stop_requests = 0
        self.stop_signal: str | None = None
        self.reload_pending = False
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous: dict[int, object] = {}
        self._previous_fd = -1

    def fileno(self) -> int:
        """The descriptor that becomes readable when a signal arrives."""
        return self._reader.fileno()

    def drain(self) -> None:
        """Empty the wake-up socket."""
        with contextlib.suppress(BlockingIOError):
            while self._reader.recv(512):
                pass

    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stop_requests += 1
        self.stop_signal = signal.Signals(signum).name

    def _on_reload(self, _signum: int, _frame: FrameType | None) -> None:
        self.reload_pending = True

    def __enter__(self) -> SignalFlags:
        for signum, handler in ((signal.SIGINT, self._on_stop), (signal.SIGTERM, self._on_stop),
                                (signal.SIGHUP, self._on_reload)):
            self._previous[signum] = signal.signal(signum, handler)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        signal.set_wakeup_fd(self._previous_fd)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._reader.close()
        self._writer.close()
