"""The demo (the README's main command) really bonds, recovers and reports."""

from __future__ import annotations

import re

import pytest

from ristbond_core.cli import main


def test_the_simulated_demo_delivers_everything_through_an_outage(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISTBOND_PLUGINS", "core,dwrr,weighted")
    assert main(["demo", "--simulated", "--duration", "10", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "(byte-identical, in order)" in out
    assert "residual loss    0 packets" in out
    # The outage was noticed (straight away as a blackhole, or first as degradation)
    # from whichever media state lte-b had reached (its 9 % loss keeps its share
    # small, so it may still be warming up when it drops out) ...
    assert re.search(r"lte-b  (warm|live|degrade) -> cooldown", out)
    assert "lte-b  reset -> probe (feedback_ok" in out  # ... and the link came back


def test_the_demo_names_a_missing_scheduler(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--scheduler", "nope", "--duration", "1"]) == 2
    assert "no scheduler named 'nope'" in capsys.readouterr().err


def test_an_incomplete_live_demo_names_the_chunks_it_lost() -> None:
    from ristbond_core.demo.live import DemoRun, _missing_chunks

    run = DemoRun(sent_ns={i: 1_000_000_000 + i * 10_000_000 for i in range(10)})
    run.received_ns = {i: 0 for i in range(10) if i not in (3, 7)}
    assert _missing_chunks(run, 10) == "#3 at 0.03 s, #7 at 0.07 s"
    run.received_ns = {}
    assert _missing_chunks(run, 10, shown=2) == "#0 at 0.00 s, #1 at 0.01 s and 8 more"
    assert _missing_chunks(DemoRun(), 0) == ""
