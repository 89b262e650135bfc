"""The README's main command: the live demo bonds over real sockets through the relay."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_live_demo_delivers_every_chunk_and_draws_the_plot(tmp_path: Path) -> None:
    plot = tmp_path / "demo.png"
    result = subprocess.run(
        [sys.executable, "-m", "ristbond_core.cli", "demo", "--duration", "12",
         "--plot", str(plot)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "(complete, in order)" in out
    assert "residual loss    0 chunks" in out
    assert "measured end to end" in out
    assert "lte-b" in out and "reset" in out  # the scripted outage was noticed ...
    assert plot.stat().st_size > 10_000  # ... and drawn
