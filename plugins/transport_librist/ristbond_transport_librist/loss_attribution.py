"""Which link loses packets, when librist only says how many were retransmitted.

librist's sender counts a retransmission on the peer that *sends* it, and that peer is
the one the NACK arrived on: the receiver sends every NACK over its lowest-RTT link. So
a peer's ``retransmitted / sent`` says where NACKs are answered, not where packets were
lost; read as loss, it demotes the clean, fast link that carries the NACKs.

What the sender can trust is the flow as a whole: in each time window the number of
retransmissions ``R`` is, up to noise, ``sum_i p_i * O_i`` where ``O_i`` is the number
of original packets link ``i`` carried and ``p_i`` its loss rate. Over windows with
different splits this is a linear regression for the ``p_i``. ``LossAttributor`` keeps
its normal equations with exponential forgetting and solves them with a small ridge
pull towards the pooled loss rate ``sum R / sum O``: with no variation in the split the
answer is "every link loses the pooled rate" (which moves no traffic), and each window
with a different split sharpens the per-link answer.

A steady split gives no variation, so while the flow shows loss the attributor also
*dithers* the split (``dither``): in window ``k`` one usable link, in turn, carries
``amplitude`` more of the traffic (never more than double its share). That is how it
tells a lossy link from a clean one within a few windows, and it stops once the flow is
clean again. Everything here is sans-IO and deterministic: time is an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: Share of each window's weight kept for the next window (memory of ~5 windows).
DEFAULT_FORGETTING = 0.8
#: Ridge strength relative to the mean per-link information (see the module docstring).
DEFAULT_RIDGE = 0.02
#: Share moved onto the dithered link (absolute; capped at doubling its share).
DEFAULT_DITHER = 0.2
#: Pooled loss rate below which the split is left alone.
DEFAULT_DITHER_THRESHOLD = 0.005


@dataclass(slots=True)
class _Window:
    key: int
    originals: dict[str, float] = field(default_factory=dict)
    retransmitted: float = 0.0


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting on a small, well-conditioned system."""
    n = len(rhs)
    a = [[*row, rhs[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        if a[col][col] == 0.0:
            continue
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            for c in range(col, n + 1):
                a[r][c] -= factor * a[col][c]
    out = [0.0] * n
    for r in range(n - 1, -1, -1):
        if a[r][r] == 0.0:
            continue
        out[r] = (a[r][n] - sum(a[r][c] * out[c] for c in range(r + 1, n))) / a[r][r]
    return out


class LossAttributor:
    """Per-link loss rates from per-window original counts and flow retransmissions."""

    def __init__(self, window_ns: int, *, report_span_ns: int = 0,
                 forgetting: float = DEFAULT_FORGETTING, ridge: float = DEFAULT_RIDGE,
                 dither_amplitude: float = DEFAULT_DITHER,
                 dither_threshold: float = DEFAULT_DITHER_THRESHOLD) -> None:
        if window_ns <= 0:
            raise ValueError("window_ns must be positive")
        self.window_ns = window_ns
        # A report covers the span before it arrives; its middle decides its window.
        self._shift_ns = report_span_ns // 2
        self.forgetting = forgetting
        self.ridge = ridge
        self.dither_amplitude = dither_amplitude
        self.dither_threshold = dither_threshold
        self._order: list[str] = []
        self._gram: list[list[float]] = []
        self._cross: list[float] = []
        self._pooled_retransmitted = 0.0
        self._pooled_originals = 0.0
        self._window: _Window | None = None
        self._loss: dict[str, float] = {}
        self.windows = 0

    # -- links ----------------------------------------------------------------------------

    def add_link(self, link_id: str) -> None:
        if link_id in self._order:
            return
        self._order.append(link_id)
        for row in self._gram:
            row.append(0.0)
        self._gram.append([0.0] * len(self._order))
        self._cross.append(0.0)
        self._loss[link_id] = self.pooled_loss

    def remove_link(self, link_id: str) -> None:
        if link_id not in self._order:
            return
        index = self._order.index(link_id)
        del self._order[index]
        del self._gram[index]
        for row in self._gram:
            del row[index]
        del self._cross[index]
        self._loss.pop(link_id, None)

    # -- observations ---------------------------------------------------------------------

    def observe(self, link_id: str, measured_ns: int, originals: float,
                retransmitted: float) -> None:
        """One link's report: originals it sent and retransmissions it sent."""
        self.add_link(link_id)
        key = (measured_ns - self._shift_ns) // self.window_ns
        if self._window is None:
            self._window = _Window(key)
        elif key > self._window.key:
            self._close(self._window)
            self._window = _Window(key)
        # A late report of an earlier window counts in the current one.
        window = self._window
        window.originals[link_id] = window.originals.get(link_id, 0.0) + max(0.0, originals)
        window.retransmitted += max(0.0, retransmitted)

    def _close(self, window: _Window) -> None:
        vector = [window.originals.get(link_id, 0.0) for link_id in self._order]
        if sum(vector) <= 0.0:
            return
        keep = self.forgetting
        for i, row in enumerate(self._gram):
            for j in range(len(row)):
                row[j] = keep * row[j] + vector[i] * vector[j]
            self._cross[i] = keep * self._cross[i] + vector[i] * window.retransmitted
        self._pooled_retransmitted = keep * self._pooled_retransmitted + window.retransmitted
        self._pooled_originals = keep * self._pooled_originals + sum(vector)
        self.windows += 1
        self._loss = dict(zip(self._order, self._estimate(), strict=True))

    def _estimate(self) -> list[float]:
        n = len(self._order)
        pooled = self.pooled_loss
        trace = sum(self._gram[i][i] for i in range(n))
        if trace <= 0.0:
            return [pooled] * n
        kappa = self.ridge * trace / n
        matrix = [[self._gram[i][j] + (kappa if i == j else 0.0) for j in range(n)]
                  for i in range(n)]
        rhs = [self._cross[i] + kappa * pooled for i in range(n)]
        return [min(1.0, max(0.0, value)) for value in _solve(matrix, rhs)]

    # -- answers --------------------------------------------------------------------------

    @property
    def pooled_loss(self) -> float:
        """Retransmissions per original packet over the remembered windows."""
        if self._pooled_originals <= 0.0:
            return 0.0
        return min(1.0, self._pooled_retransmitted / self._pooled_originals)

    def loss(self, link_id: str) -> float:
        """The link's attributed loss rate (the pooled rate until windows tell apart)."""
        return self._loss.get(link_id, self.pooled_loss)

    def dither(self, shares: Mapping[str, float], now_ns: int) -> dict[str, float]:
        """``shares`` with this window's dithered link given more, while the flow loses.

        Links with share 0 (excluded by the lifecycle) are never dithered onto.
        """
        out = {link_id: max(0.0, float(share)) for link_id, share in shares.items()}
        usable = [link_id for link_id, share in out.items() if share > 0.0]
        total = sum(out.values())
        if len(usable) < 2 or total <= 0.0 or self.pooled_loss < self.dither_threshold:
            return out
        out = {link_id: share / total for link_id, share in out.items()}
        chosen = usable[(now_ns // self.window_ns) % len(usable)]
        share = out[chosen]
        extra = min(self.dither_amplitude, share, 1.0 - share)
        if extra <= 0.0:
            return out
        scale = (1.0 - share - extra) / (1.0 - share)
        return {link_id: (value + extra if link_id == chosen else value * scale)
                for link_id, value in out.items()}

    def stats(self) -> dict[str, object]:
        return {
            "windows": self.windows,
            "pooled_loss": round(self.pooled_loss, 5),
            "loss": {link_id: round(self.loss(link_id), 5) for link_id in self._order},
            "dithering": self.pooled_loss >= self.dither_threshold,
        }
