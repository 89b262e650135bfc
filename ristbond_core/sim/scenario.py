"""Scenarios: links, stream and a timeline of impairments, read from TOML.

A scenario file names its links (any :class:`LinkModel` field, rates in Mbit/s), the
stream (bitrate, latency, duration) and what happens over time: explicit events,
capacity traces (CSV or TOML time series), periodic flaps and seeded random walks.
Everything is compiled into one sorted list of :class:`Action`s before the run, so a
run is a pure function of (scenario, scheduler, seed).
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import tomllib

from ristbond_core.errors import RistbondError
from ristbond_core.sim.link_model import LinkModel

#: Link-model fields a scenario may set (``rate_mbps`` is accepted for ``rate_bps``).
MODEL_FIELDS = {f.name for f in fields(LinkModel)}
ACTION_KINDS = {"set", "address_change", "clock_jump", "stall"}


class ScenarioError(RistbondError):
    """A scenario or trace file is missing or malformed."""


@dataclass(frozen=True, slots=True)
class Action:
    """One timeline entry: at ``at_s`` do ``kind`` (to ``link``) with ``params``."""

    at_s: float
    kind: str
    link: str | None = None
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, name: str, default: Any = None) -> Any:
        """One parameter by name."""
        return dict(self.params).get(name, default)


@dataclass(frozen=True, slots=True)
class ShiftCheck:
    """Traffic should leave ``link`` after the impairment at ``at_s``.

    Shifted means the link's share (bytes, 0.5 s window) fell to ``fraction`` of what it
    carried in the 2 s before.
    """

    link: str
    at_s: float
    fraction: float = 0.5


@dataclass(slots=True)
class Scenario:
    """A named, self-contained simulation setup."""

    name: str
    description: str
    links: dict[str, dict[str, Any]]
    bitrate_kbps: float
    latency_ms: int
    duration_s: float
    min_duration_s: float
    payload_bytes: int = 1316
    checks: tuple[str, ...] = ()
    shift: ShiftCheck | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    traces: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    flaps: list[dict[str, Any]] = field(default_factory=list)
    random_walks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def packets_per_s(self) -> float:
        """Input datagrams per second for the configured bitrate."""
        return self.bitrate_kbps * 1000 / (self.payload_bytes * 8)

    def link_models(self) -> dict[str, LinkModel]:
        """Fresh link models in their initial state."""
        return {name: LinkModel(**_model_fields(name, spec)) for name, spec in self.links.items()}

    def timeline(self, seed: int, duration_s: float) -> list[Action]:
        """Every action up to ``duration_s``, in time order (stable for equal times)."""
        actions: list[Action] = []
        for event in self.events:
            actions.extend(_event_actions(event, self.links))
        for link, points in self.traces.items():
            actions.extend(_trace_actions(link, points, duration_s))
        for flap in self.flaps:
            actions.extend(_flap_actions(flap, duration_s))
        for index, walk in enumerate(self.random_walks):
            rng = random.Random(f"{self.name}/walk{index}/{seed}")
            actions.extend(_walk_actions(walk, rng, duration_s))
        kept = [a for a in actions if a.at_s <= duration_s]
        return sorted(kept, key=lambda a: a.at_s)


# -- loading ------------------------------------------------------------------------


def shipped_names() -> list[str]:
    """Names of the scenarios shipped with ristbond."""
    folder = resources.files("ristbond_core.sim") / "scenarios"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_scenario(name_or_path: str) -> Scenario:
    """A shipped scenario by name, or a scenario file by path."""
    path = Path(name_or_path)
    if not path.suffix and name_or_path in shipped_names():
        folder = resources.files("ristbond_core.sim") / "scenarios"
        with resources.as_file(folder / f"{name_or_path}.toml") as shipped:
            return parse_scenario(shipped.read_text(encoding="utf-8"), shipped.parent)
    if not path.is_file():
        raise ScenarioError(
            f"no scenario {name_or_path!r}: not a shipped name ({', '.join(shipped_names())})"
            " nor a file"
        )
    return parse_scenario(path.read_text(encoding="utf-8"), path.parent)


def parse_scenario(text: str, base: Path) -> Scenario:
    """Build a scenario from TOML text; trace paths are relative to ``base``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario is not valid TOML: {exc}") from None
    try:
        links: dict[str, dict[str, Any]] = dict(data["links"])
        traces = {}
        for name, raw in links.items():
            spec = dict(raw)
            trace = spec.pop("trace", None)
            if trace is not None:
                traces[name] = load_trace(base / str(trace))
            _model_fields(name, spec)  # validate early
            links[name] = spec
        duration = float(data["duration_s"])
        shift = data.get("shift")
        scenario = Scenario(
            name=str(data["name"]),
            description=str(data.get("description", "")),
            links=links,
            bitrate_kbps=float(data["bitrate_kbps"]),
            latency_ms=int(data["latency_ms"]),
            duration_s=duration,
            min_duration_s=float(data.get("min_duration_s", duration)),
            payload_bytes=int(data.get("payload_bytes", 1316)),
            checks=tuple(data.get("checks", ())),
            shift=ShiftCheck(**shift) if shift else None,
            events=list(data.get("events", [])),
            traces=traces,
            flaps=list(data.get("flaps", [])),
            random_walks=list(data.get("random_walks", [])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenarioError(f"scenario is malformed: {exc!r}") from None
    for event in scenario.events:
        kind = event.get("action", "set")
        if kind not in ACTION_KINDS and kind != "outage":
            raise ScenarioError(f"scenario {scenario.name}: unknown action {kind!r}")
        if event.get("link") is not None and event["link"] not in links:
            raise ScenarioError(f"scenario {scenario.name}: no link {event['link']!r}")
    return scenario


def load_trace(path: Path) -> list[dict[str, float]]:
    """A capacity trace: rows of ``time_s`` plus any of rate_mbps/delay_ms/loss/...

    CSV with a header row, or TOML with ``[[points]]`` tables. Each value holds until
    the next row.
    """
    if not path.is_file():
        raise ScenarioError(f"trace file {path.name!r} not found")
    text = path.read_text(encoding="utf-8")
    rows: list[dict[str, Any]]
    if path.suffix == ".toml":
        rows = list(tomllib.loads(text).get("points", []))
    else:
        rows = list(csv.DictReader(line for line in text.splitlines() if line.strip()))
    try:
        points = [{k.strip(): float(v) for k, v in row.items()} for row in rows]
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"trace {path.name}: {exc}") from None
    if not points or any("time_s" not in p for p in points):
        raise ScenarioError(f"trace {path.name}: needs rows with a time_s column")
    return sorted(points, key=lambda p: p["time_s"])


def _model_fields(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    values = dict(spec)
    if "rate_mbps" in values:
        rate = values.pop("rate_mbps")
        values["rate_bps"] = None if rate is None else float(rate) * 1e6
    unknown = set(values) - MODEL_FIELDS
    if unknown:
        raise ScenarioError(f"link {name!r}: unknown setting(s) {', '.join(sorted(unknown))}")
    return values


# -- compiling the timeline ---------------------------------------------------------


def _set(at_s: float, link: str, values: dict[str, Any]) -> Action:
    return Action(at_s, "set", link, tuple(sorted(_model_fields(link, values).items())))


def _event_actions(event: dict[str, Any], links: dict[str, Any]) -> list[Action]:
    at = float(event["at_s"])
    kind = event.get("action", "set")
    link = event.get("link")
    if kind == "set":
        return [_set(at, str(link), dict(event["set"]))]
    if kind == "outage":
        end = at + float(event["duration_s"])
        return [_set(at, str(link), {"up": False}), _set(end, str(link), {"up": True})]
    params = tuple(sorted((k, v) for k, v in event.items() if k not in ("at_s", "action", "link")))
    if kind == "address_change":
        # The old address goes dark for down_ms, then the link re-attaches.
        down = float(event.get("down_ms", 0)) / 1000
        return [_set(at, str(link), {"up": False}),
                Action(at + down, "address_change", link, params),
                _set(at + down, str(link), {"up": True})]
    return [Action(at, kind, link, params)]


def _trace_actions(link: str, points: list[dict[str, float]], duration_s: float) -> list[Action]:
    """Trace rows as set-actions, repeated from the start if the run outlasts the trace."""
    last = points[-1]["time_s"]
    step = last - points[-2]["time_s"] if len(points) > 1 else 1.0
    period = last + step
    actions = []
    offset = 0.0
    while offset <= duration_s:
        for point in points:
            values = {k: v for k, v in point.items() if k != "time_s"}
            actions.append(_set(offset + point["time_s"], link, values))
        offset += period
    return actions


def _flap_actions(flap: dict[str, Any], duration_s: float) -> list[Action]:
    link = str(flap["link"])
    period = float(flap["period_s"])
    down = float(flap["down_s"])
    t = float(flap.get("start_s", period))
    stop = float(flap.get("stop_s", duration_s))
    actions = []
    while t < stop:
        actions.append(_set(t, link, {"up": False}))
        actions.append(_set(t + down, link, {"up": True}))
        t += period
    return actions


def _walk_actions(walk: dict[str, Any], rng: random.Random, duration_s: float) -> list[Action]:
    """Each listed setting wanders within its [low, high] range, one step per ``step_s``.

    Steps are a tenth of the range, up or down, reflected at the bounds.
    """
    step_s = float(walk.get("step_s", 0.5))
    ranges = {k: (float(v[0]), float(v[1])) for k, v in walk.items()
              if isinstance(v, list) and k != "links"}
    actions = []
    for link in walk["links"]:
        spec = walk.get("start", {}).get(link, {})
        value = {k: float(spec.get(k, (lo + hi) / 2)) for k, (lo, hi) in ranges.items()}
        t = step_s
        while t <= duration_s:
            for key in sorted(ranges):
                lo, hi = ranges[key]
                moved = value[key] + rng.choice((-1.0, 1.0)) * (hi - lo) / 10
                if moved < lo or moved > hi:
                    moved = 2 * value[key] - moved
                value[key] = moved
            actions.append(_set(round(t, 6), str(link), dict(value)))
            t += step_s
    return actions
