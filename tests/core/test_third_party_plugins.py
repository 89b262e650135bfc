"""Plugins installed for real (pip, into an isolated folder) are found through entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent.parent / "fixture_plugins"
ALLOW = "core,fixture-rr,broken-import,broken-register,broken-hook"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the two fixture distributions pip-installed into it."""
    target = tmp_path_factory.mktemp("site")
    for name in ("ristbond-fixture-rr", "ristbond-fixture-broken"):
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
             "--disable-pip-version-check", "--target", str(target), str(FIXTURES / name)],
            check=True, capture_output=True, timeout=180,
        )
    return target


def ristbond(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "RISTBOND_PLUGINS": ALLOW}
    return subprocess.run(
        [sys.executable, "-m", "ristbond_core.cli", *args],
        env=env, capture_output=True, text=True, timeout=60, cwd=cwd, check=False,
    )


def test_an_installed_third_party_plugin_is_listed(plugin_site: Path) -> None:
    result = ristbond(plugin_site, "plugins", "--json")
    assert result.returncode == 0
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["fixture-rr"] == {
        "name": "fixture-rr",
        "kind": "scheduler",
        "plugin": "fixture-rr",
        "distribution": "ristbond-fixture-rr",
        "version": "1.2.3",
        "description": "round robin (test fixture)",
    }
    assert rows["jsonl"]["distribution"] == "ristbond"


def test_broken_plugins_give_one_line_each_and_the_rest_load(plugin_site: Path) -> None:
    result = ristbond(plugin_site, "plugins")
    assert result.returncode == 0
    assert "fixture-rr" in result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3, result.stderr
    by_plugin = {line.split("'")[1]: line for line in lines}
    assert "rb_fixture_broken.import_fails" in by_plugin["broken-import"]
    assert "No module named 'rb_fixture_missing_dependency'" in by_plugin["broken-import"]
    assert "'Bad Name!' is invalid" in by_plugin["broken-register"]
    assert "ristbond_register_schedulerz" in by_plugin["broken-hook"]


def test_a_third_party_scheduler_is_selected_by_name_from_config(
    plugin_site: Path, tmp_path: Path
) -> None:
    config = tmp_path / "bond.toml"
    config.write_text('[scheduler]\nname = "fixture-rr"\n[scheduler.options]\nburst = 4\n')
    result = ristbond(plugin_site, "config", "check", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_a_bad_third_party_option_names_the_key(plugin_site: Path, tmp_path: Path) -> None:
    config = tmp_path / "bond.toml"
    config.write_text('[scheduler]\nname = "fixture-rr"\n[scheduler.options]\nburst = 0\n')
    result = ristbond(plugin_site, "config", "check", str(config))
    assert result.returncode == 2
    assert "scheduler.options.burst: value 0 is invalid" in result.stderr
    assert "use a value >= 1" in result.stderr
