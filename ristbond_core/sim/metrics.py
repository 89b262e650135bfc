"""What a run achieved, as numbers a regression test and a scheduler author can use.

All metrics are computed from a :class:`RunRecord` after the run, from simulated time
only, and rounded, so the same run always gives byte-identical JSON.
"""

from __future__ import annotations

import itertools
import statistics
from typing import Any

from ristbond_core.sim.runner import RunRecord, Sample
from ristbond_core.sim.scenario import ShiftCheck

#: Capacity estimates are judged only after the links had time to be measured.
CAPACITY_SETTLE_S = 5.0
SHARE_WINDOW_S = 0.5
SHIFT_BASELINE_S = 2.0


def compute_metrics(record: RunRecord) -> dict[str, Any]:
    """The full metrics object (the ``--json`` output)."""
    scenario = record.scenario
    sent = len(record.input_times_ns)
    indices = record.output_indices
    unique = set(indices)
    delivered = len(unique & set(range(sent)))
    latencies = _latencies_ms(record)
    percentiles = _percentiles(latencies)
    p99 = percentiles["p99"]
    sender_flow = record.sender_stats["flow"]
    receiver_flow = record.receiver_stats["flow"]
    packets = max(1, sender_flow["packets"])
    retransmissions = sender_flow["retransmitted"]
    redundant = max(0, sender_flow["packets_sent"] - sender_flow["packets"] - retransmissions)
    metrics: dict[str, Any] = {
        "scenario": scenario.name,
        "scheduler": record.scheduler,
        "seed": record.seed,
        "duration_s": record.duration_s,
        "bitrate_kbps": scenario.bitrate_kbps,
        "sent": sent,
        "delivered": delivered,
        "residual_loss": _r(1 - delivered / sent if sent else 0.0),
        "receiver_lost": receiver_flow["lost"],
        "receiver_late": receiver_flow["late"],
        "flow_resets": [
            {"t_s": _r((e.at_ns - record.start_ns) / 1e9), "reason": e.reason}
            for e in record.flow_resets
        ],
        "recovered": receiver_flow["recovered"],
        "latency_target_ms": scenario.latency_ms,
        "latency_ms": percentiles,
        "latency_over_target_p99_ms": None if p99 is None else _r(p99 - scenario.latency_ms),
        "output_reorder": output_reorder(indices),
        "output_duplicates": len(indices) - len(unique),
        "glitches": glitches(indices, sent),
        "overhead_ratio": _r((retransmissions + redundant) / packets),
        "retransmissions": retransmissions,
        "redundant_copies": redundant,
        "spurious_retransmits": record.spurious_retransmits,
        "receiver_duplicates": receiver_flow["duplicate"],
        "path_duplicates": record.path_duplicates,
        "links": _links(record),
        "lifecycle_transitions": len(record.transitions),
        "lifecycle": [
            {"t_s": _r((e.at_ns - record.start_ns) / 1e9), "link": e.link_id,
             "from": e.old.value, "to": e.new.value, "reason": e.reason}
            for e in record.transitions
        ],
    }
    if scenario.shift is not None:
        shifted = shift_time_s(input_samples(record), scenario.shift)
        metrics["shift_time_s"] = None if shifted is None else _r(shifted)
    return metrics


def metric_value(metrics: dict[str, Any], name: str) -> float | None:
    """A scalar metric by its threshold name (see docs/regression_thresholds.md)."""
    if name == "latency_p99_ms":
        value = metrics["latency_ms"]["p99"]
    elif name == "capacity_error_max":
        errors = [link["capacity_error"] for link in metrics["links"]]
        value = None if any(e is None for e in errors) else max(errors, default=0.0)
    else:
        value = metrics.get(name)
    return None if value is None else float(value)


def output_reorder(indices: list[int]) -> int:
    """Output packets not newer than one already output: late or repeated (must be 0)."""
    count = 0
    highest = -1
    for index in indices:
        if index <= highest:
            count += 1
        highest = max(highest, index)
    return count


def glitches(indices: list[int], sent: int) -> int:
    """Gaps in the output: runs of consecutive input packets that never came out."""
    count = 0
    expected = 0
    for index in sorted(set(indices)):
        if index > expected:
            count += 1
        expected = max(expected, index + 1)
    return count + (1 if expected < sent else 0)


def shift_time_s(samples: list[Sample], check: ShiftCheck) -> float | None:
    """Seconds from the impairment until the link's share fell to ``check.fraction``."""
    baseline = _window_share(samples, check.link, check.at_s - SHIFT_BASELINE_S, check.at_s)
    if baseline is None or baseline <= 0:
        return None
    for sample in samples:
        if sample.t_s < check.at_s + SHARE_WINDOW_S:
            continue
        share = _window_share(samples, check.link, sample.t_s - SHARE_WINDOW_S, sample.t_s)
        if share is not None and share <= check.fraction * baseline:
            return sample.t_s - check.at_s
    return None


def share_series(samples: list[Sample], link: str) -> list[tuple[float, float]]:
    """(t, share of bytes sent in the last window) for one link."""
    series = []
    for sample in samples:
        if sample.t_s < SHARE_WINDOW_S:
            continue
        share = _window_share(samples, link, sample.t_s - SHARE_WINDOW_S, sample.t_s)
        if share is not None:
            series.append((sample.t_s, share))
    return series


def rate_series(samples: list[Sample], link: str) -> list[tuple[float, float]]:
    """(t, bit/s the sender put on the link over the last sample interval)."""
    series = []
    for before, after in itertools.pairwise(samples):
        span = after.t_s - before.t_s
        if span > 0:
            sent = _delta(before.links[link].sent_bytes, after.links[link].sent_bytes)
            series.append((after.t_s, sent * 8 / span))
    return series


def _delta(before: int, after: int) -> int:
    # A re-attached link starts counting from zero again.
    return after - before if after >= before else after


def _window_share(samples: list[Sample], link: str, t0: float, t1: float) -> float | None:
    inside = [s for s in samples if t0 <= s.t_s <= t1]
    if len(inside) < 2:
        return None
    totals = dict.fromkeys(inside[-1].links, 0)
    for before, after in itertools.pairwise(inside):
        for name in totals:
            totals[name] += _delta(before.links[name].sent_bytes, after.links[name].sent_bytes)
    total = sum(totals.values())
    return totals[link] / total if total else None


def input_samples(record: RunRecord) -> list[Sample]:
    """Samples while input was flowing (the drain afterwards says nothing about shares)."""
    return [s for s in record.samples if s.t_s <= record.duration_s]


def _links(record: RunRecord) -> list[dict[str, Any]]:
    samples = input_samples(record)
    total_bytes = dict.fromkeys(record.scenario.links, 0)
    for before, after in itertools.pairwise(samples):
        for name in total_bytes:
            total_bytes[name] += _delta(before.links[name].sent_bytes,
                                        after.links[name].sent_bytes)
    grand = sum(total_bytes.values()) or 1
    by_id = {link["id"]: link for link in record.sender_stats["links"]}
    return [
        {
            "id": name,
            "share": _r(total_bytes[name] / grand),
            "capacity_error": _capacity_error(samples, name),
            "share_per_s": _share_per_second(samples, name),
            "sent_packets": by_id.get(name, {}).get("sent_packets", 0),
            "retransmitted": by_id.get(name, {}).get("retransmitted", 0),
            "final_state": by_id.get(name, {}).get("state"),
        }
        for name in record.scenario.links
    ]


def _share_per_second(samples: list[Sample], link: str) -> list[float | None]:
    """The link's share of bytes in each whole second of input (None: nothing sent)."""
    if not samples:
        return []
    seconds = int(samples[-1].t_s)
    shares = [_window_share(samples, link, float(t), t + 1.0) for t in range(seconds)]
    return [None if share is None else _r(share) for share in shares]


def _capacity_error(samples: list[Sample], link: str) -> float | None:
    """Median relative error of the capacity estimate against the model's rate.

    Judged while the link is up and rate-limited, after :data:`CAPACITY_SETTLE_S`; a
    link that never got an estimate in that time has error 1 (nothing known).
    """
    errors = []
    for sample in samples:
        view = sample.links[link]
        if sample.t_s < CAPACITY_SETTLE_S or not view.up or not view.truth_bps:
            continue
        if view.estimate_bps is None:
            errors.append(1.0)
        else:
            errors.append(abs(view.estimate_bps - view.truth_bps) / view.truth_bps)
    return _r(statistics.median(errors)) if errors else None


def _latencies_ms(record: RunRecord) -> list[float]:
    inputs = record.input_times_ns
    seen: set[int] = set()
    latencies = []
    for index, out_ns in zip(record.output_indices, record.output_times_ns, strict=True):
        if 0 <= index < len(inputs) and index not in seen:
            seen.add(index)
            latencies.append((out_ns - inputs[index]) / 1e6)
    return latencies


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return _r(ordered[min(len(ordered) - 1, int(q * len(ordered)))])

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99)}


def _r(value: float) -> float:
    return round(value, 6)
