"""Bad command lines exit 2 with one line that names the problem, never a traceback."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Runner

pytestmark = pytest.mark.e2e

LINK = "rist://127.0.0.1:22100"


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["send", "--link", "http://127.0.0.1:22100"], "http://127.0.0.1:22100"),
        (["send", "--link", "rist://127.0.0.1:22101"], "odd"),
        (["send", "--link", "rist://127.0.0.1:99998"], "out of range"),
        (["send", "--link", LINK, "--scheduler", "nope"], "'nope'"),
        (["send", "--link", f"{LINK}?iface=nosuch0"], "'nosuch0'"),
        (["send", "--link", f"{LINK}?colour=red"], "colour"),
        (["send", "--link", f"{LINK}?weight=-1"], "weight"),
        (["send", "--link", LINK, "--input", "rtmp://x"], "rtmp://x"),
        (["send", "--link", LINK, "--input", "testsrc://?bitrate=fast"], "bitrate"),
        (["send", "--link", LINK, "--latency-ms", "5"], "--latency-ms"),
        (["send", "--link", LINK, "--duration", "0"], "--duration"),
        (["send"], "no links"),
        (["send", "--link", LINK, "--config", "/nonexistent/ristbond.toml"], "no such config"),
        (["receive", "--listen", "rist://@127.0.0.1:22101", "--output", "-"], "odd"),
        (["receive", "--listen", "rist://127.0.0.1:22100", "--output", "-"], "rist://@"),
        (["receive", "--listen", "rist://@127.0.0.1:22100", "--output", "udp://:5"],
         "udp://:5"),
        (["receive", "--listen", "rist://@127.0.0.1:22100", "--output", "-",
          "--stats-json", "-"], "stdout"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(
    runner: Runner, args: list[str], names: str
) -> None:
    result = runner.run(*args, "--duration", "1") if "--duration" not in args else \
        runner.run(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert names in lines[0]
    assert "Traceback" not in result.stderr
