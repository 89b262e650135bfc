"""The documented example plugin works as a real, separately installed distribution.

The example package is installed with pip into a temporary target (not into the
environment), then shown to be discovered by the CLI, selectable by name from a
config file, strict about its options, and to pass the conformance kit.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ristbond_core.contracts import Scheduler
from ristbond_core.plugins import PluginHost
from ristbond_core.testing.conformance import SchedulerConformance

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ristbond-sched-minrtt"
MODULE = "ristbond_sched_minrtt"


@pytest.fixture(scope="module")
def install_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example installed by pip into a fresh directory (built from a copy of its source)."""
    work = tmp_path_factory.mktemp("minrtt")
    source = work / "src"
    shutil.copytree(
        EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    target = work / "site"
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
         str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return target


def ristbond(target: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``ristbond`` CLI in a fresh interpreter that sees the installed example."""
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("RISTBOND_PLUGINS", None)
    env.pop("RISTBOND_DISABLE_PLUGINS", None)
    return subprocess.run(
        [sys.executable, "-m", "ristbond_core.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )


def test_cli_lists_the_installed_example_as_a_scheduler(
    install_target: Path, tmp_path: Path
) -> None:
    completed = ristbond(install_target, "plugins", "--json", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    rows = json.loads(completed.stdout)
    minrtt = [row for row in rows if row["name"] == "minrtt"]
    assert len(minrtt) == 1
    assert minrtt[0]["kind"] == "scheduler"
    assert minrtt[0]["distribution"] == "ristbond-sched-minrtt"


def test_config_selects_the_example_by_name(install_target: Path, tmp_path: Path) -> None:
    config = tmp_path / "cfg.toml"
    config.write_text('[scheduler]\nname = "minrtt"\n\n[scheduler.options]\nrtt_smoothing = 0.5\n')
    completed = ristbond(install_target, "config", "check", str(config), cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.parametrize(
    ("options", "key"),
    [("rtt_smothing = 0.5", "rtt_smothing"), ("rtt_smoothing = 3.0", "rtt_smoothing")],
)
def test_config_check_names_a_bad_example_option(
    install_target: Path, tmp_path: Path, options: str, key: str
) -> None:
    config = tmp_path / "cfg.toml"
    config.write_text(f'[scheduler]\nname = "minrtt"\n\n[scheduler.options]\n{options}\n')
    completed = ristbond(install_target, "config", "check", str(config), cwd=tmp_path)
    assert completed.returncode == 2
    assert f"scheduler.options.{key}" in completed.stdout + completed.stderr


@pytest.fixture(scope="module")
def installed_module(install_target: Path) -> Iterator[ModuleType]:
    """The example imported from the pip target, removed again afterwards."""
    sys.path.insert(0, str(install_target))
    try:
        module = importlib.import_module(MODULE)
        assert Path(module.__file__ or "").is_relative_to(install_target)
        yield module
    finally:
        sys.path.remove(str(install_target))
        for name in [n for n in sys.modules if n == MODULE or n.startswith(MODULE + ".")]:
            del sys.modules[name]


class TestInstalledExampleConformance(SchedulerConformance):
    """The conformance kit against ``minrtt``, built by name through the plugin host."""

    capacity_aware = True

    @pytest.fixture(autouse=True)
    def _plugin_host(self, installed_module: ModuleType) -> None:
        self.host = PluginHost.from_plugins({"minrtt": installed_module})

    def make_scheduler(self, seed: int | None = None) -> Scheduler:
        options: dict[str, Any] = {}
        rng = random.Random(self.seed if seed is None else seed)
        return self.host.create_scheduler("minrtt", options, rng)


def _minrtt(module: ModuleType, **options: Any) -> Scheduler:
    host = PluginHost.from_plugins({"minrtt": module})
    return host.create_scheduler("minrtt", options, random.Random(0))


def test_example_sends_on_the_fastest_link_first_and_splits_by_capacity(
    installed_module: ModuleType,
) -> None:
    from ristbond_core.testing.conformance import byte_fractions, make_link, run_stream

    links = [
        make_link("slow", capacity_bps=3_000_000.0, rtt_ms=120.0),
        make_link("fast", capacity_bps=1_000_000.0, rtt_ms=15.0),
    ]
    scheduler = _minrtt(installed_module)
    for link in links:
        scheduler.on_link_added(link.link_id, 0)
        scheduler.on_metrics(link, 0)
    result = run_stream(scheduler, links, 4_000)
    assert result.selections[0] == ("fast",)
    assert byte_fractions(result.bytes_by_link)["fast"] == pytest.approx(0.25, abs=0.01)


def test_example_ranks_an_unmeasured_link_after_measured_ones(
    installed_module: ModuleType,
) -> None:
    from ristbond_core.contracts import PacketInfo
    from ristbond_core.testing.conformance import make_link

    links = [make_link("new", rtt_ms=None), make_link("known", rtt_ms=300.0)]
    scheduler = _minrtt(installed_module, unknown_rtt_ms=1_000.0)
    assert tuple(scheduler.select(PacketInfo(seq=0, size_bytes=1316), links, 0)) == ("known",)


DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-a-scheduler.md"
DOC_BLOCK = re.compile(r"<!-- example-(file|test): (\S+) -->\n```\w+\n(.*?)```", re.DOTALL)


def doc_blocks(kind: str) -> dict[str, str]:
    """Code blocks of the walk-through marked as example files (or tests), by path."""
    return {path: body for k, path, body in DOC_BLOCK.findall(DOC.read_text()) if k == kind}


def test_walkthrough_shows_the_example_files_exactly() -> None:
    blocks = doc_blocks("file")
    assert set(blocks) == {
        "pyproject.toml",
        "ristbond_sched_minrtt/__init__.py",
        "ristbond_sched_minrtt/scheduler.py",
    }
    for path, body in blocks.items():
        assert body == (EXAMPLE / path).read_text(), f"docs and {path} differ"


def test_walkthrough_conformance_test_passes_in_a_plain_pytest_run(
    install_target: Path, tmp_path: Path
) -> None:
    (path, body), = doc_blocks("test").items()
    test_file = tmp_path / path
    test_file.parent.mkdir(parents=True)
    test_file.write_text(body)
    env = {**os.environ, "PYTHONPATH": str(install_target)}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert re.search(r"\b1[0-9] passed\b", output), output
