"""``ristbond sim``: JSON keys, the suite table, plots and user errors."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from ristbond_core.cli import main
from ristbond_core.cli.sim_cmd import ProgressBar

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["sim", *args, "--json"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def test_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "clean-2link", "--duration", "3", "--seed", "2")
    for key in ("residual_loss", "latency_ms", "overhead_ratio", "glitches",
                "spurious_retransmits", "links", "output_reorder", "lifecycle"):
        assert key in data
    assert set(data["latency_ms"]) == {"p50", "p95", "p99"}
    link = data["links"][0]
    assert {"id", "share", "capacity_error"} <= set(link)
    assert "shift_time_s" not in data  # clean-2link defines no shift


def test_json_has_shift_time_where_the_scenario_defines_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = run_json(capsys, "tunnel", "--duration", "11")
    assert "shift_time_s" in data


def test_a_scenario_file_path_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\nbitrate_kbps = 800\nlatency_ms = 400\nduration_s = 2\n'
                    "[links.only]\ndelay_ms = 10\nrate_mbps = 2\n")
    data = run_json(capsys, str(path))
    assert data["scenario"] == "mine"
    assert data["residual_loss"] == 0.0


def test_the_human_summary_names_the_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "doppler", "--duration", "2", "--scheduler", "weighted"]) == 0
    out = capsys.readouterr().out
    assert "scenario doppler: scheduler weighted" in out


def test_suite_prints_one_column_per_scheduler(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sim", "--suite", "--short", "--only", "clean-2link",
                 "--scheduler", "dwrr", "--scheduler", "broadcast"])
    assert code == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[-2:] == ["dwrr", "broadcast"]
    assert any(row.startswith("clean-2link") and "residual loss" in row for row in rows)


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="matplotlib is not installed (plots optional)")
def test_plot_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "run.png"
    assert main(["sim", "tunnel", "--duration", "3", "--plot", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args", [
    ["sim", "no-such-scenario"],
    ["sim"],
    ["sim", "clean-2link", "--duration", "0"],
    ["sim", "clean-2link", "--scheduler", "no-such-scheduler"],
    ["sim", "--suite", "--only", "nope"],
])
def test_user_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert "ristbond:" in capsys.readouterr().err


def test_suite_takes_several_schedulers_after_one_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["sim", "--suite", "--short", "--only", "doppler",
                 "--scheduler", "dwrr", "weighted"])
    assert code == 0
    assert capsys.readouterr().out.split()[2:4] == ["dwrr", "weighted"]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_draws_only_on_a_terminal() -> None:
    terminal, pipe = FakeTerminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = ProgressBar(stream, "x")
        if bar.enabled:
            bar.update(0.5)
        bar.close()
    assert "50 %" in terminal.getvalue()
    assert pipe.getvalue() == ""


def test_plot_without_matplotlib_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes the import fail
    assert main(["sim", "tunnel", "--plot", str(tmp_path / "x.png")]) == 2
    assert "pip install matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
