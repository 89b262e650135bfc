"""One PNG per run: what the links could do, what the sender did, how the receiver fared.

matplotlib is optional: it is imported only here, only when a plot is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ristbond_core.errors import RistbondError
from ristbond_core.sim.metrics import input_samples, rate_series, share_series
from ristbond_core.sim.runner import RunRecord

#: Lifecycle states bottom to top on the state panel (unknown states go on top).
STATE_ORDER = ("init", "probe", "warm", "live", "degrade", "cooldown", "reset", "detached")


def require_matplotlib() -> None:
    """Fail before a long run, not after it, when plots cannot be drawn."""
    _pyplot()


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise RistbondError("plots need matplotlib: install matplotlib "
                            "(pip install matplotlib)") from None
    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    return plt


def write_plot(record: RunRecord, path: Path) -> None:
    """Draw the run's time series into ``path`` (PNG)."""
    plt = _pyplot()
    samples = record.samples
    links = list(record.scenario.links)
    figure, axes = plt.subplots(5, 1, figsize=(11, 15), sharex=True)
    colors = {name: f"C{i}" for i, name in enumerate(links)}
    times = [s.t_s for s in samples]

    capacity, share, buffer, losses, states = axes
    for name in links:
        truth = [(s.links[name].truth_bps or 0.0) / 1e6 if s.links[name].up else 0.0
                 for s in samples]
        estimate = [_mbps(s.links[name].estimate_bps) for s in samples]
        capacity.step(times, truth, where="post", color=colors[name], lw=2.5, alpha=0.6,
                      label=f"{name} truth")
        capacity.plot(times, estimate, color=colors[name], ls="--", lw=1,
                      label=f"{name} estimate")
        sent = rate_series(samples, name)
        capacity.plot([t for t, _ in sent], [r / 1e6 for _, r in sent], color=colors[name],
                      ls=":", lw=0.8, label=f"{name} sent")
        shares = share_series(input_samples(record), name)
        share.plot([t for t, _ in shares], [100 * v for _, v in shares], color=colors[name],
                   label=name)
    capacity.set_ylabel("Mbit/s")
    capacity.set_title("capacity: truth (solid), estimate (dashed), sent rate (dotted)")
    capacity.legend(ncol=len(links), fontsize=7, loc="upper right")
    share.set_ylabel("% of bytes (0.5 s)")
    share.set_title("per-link share")
    share.set_ylim(0, 105)
    share.legend(fontsize=8, loc="upper right")

    per_packet_ms = 1000 / record.scenario.packets_per_s
    buffer.plot(times, [s.buffer_packets * per_packet_ms for s in samples], color="C0",
                label="buffered (ms of stream)")
    buffer.axhline(record.scenario.latency_ms, color="grey", ls="--", lw=0.8,
                   label="latency_ms")
    buffer.axvline(record.duration_s, color="grey", ls=":", lw=0.8, label="input ends")
    buffer.set_ylabel("ms")
    buffer.set_title("receiver buffer level")
    buffer.legend(fontsize=8, loc="upper right")

    losses.plot(times, [s.recovered for s in samples], color="C2", label="recovered (ARQ)")
    losses.plot(times, [s.lost for s in samples], color="C3", label="lost (residual)")
    losses.set_ylabel("packets (cumulative)")
    losses.set_title("losses and recoveries")
    losses.legend(fontsize=8, loc="upper left")

    for offset, name in enumerate(links):
        levels = [_state_level(s.links[name].state) + 0.08 * offset for s in samples]
        states.step(times, levels, where="post", color=colors[name], label=name)
    states.set_yticks(range(len(STATE_ORDER)), STATE_ORDER)
    states.set_title("lifecycle state")
    states.set_xlabel("simulated time (s)")
    states.legend(fontsize=8, loc="upper right")

    figure.suptitle(f"{record.scenario.name}: scheduler {record.scheduler}, seed {record.seed}")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _mbps(bps: float | None) -> float:
    return float("nan") if bps is None else bps / 1e6


def _state_level(state: str | None) -> float:
    if state is None:
        return float(STATE_ORDER.index("detached"))
    return float(STATE_ORDER.index(state)) if state in STATE_ORDER else len(STATE_ORDER) - 1.0
