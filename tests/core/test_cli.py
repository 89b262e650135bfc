"""The ``ristbond`` command: exit codes, help everywhere, no tracebacks for user mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ristbond_core import __version__
from ristbond_core.cli import build_parser, main


def subcommand_paths() -> list[list[str]]:
    """Every subcommand path, from the real parser (so a new one is covered at once)."""
    paths: list[list[str]] = []

    def walk(parser: object, prefix: list[str]) -> None:
        for action in getattr(parser, "_actions", []):
            choices = getattr(action, "choices", None)
            if isinstance(choices, dict):
                for name, child in choices.items():
                    paths.append([*prefix, name])
                    walk(child, [*prefix, name])

    walk(build_parser(), [])
    return paths


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"ristbond {__version__}"


@pytest.mark.parametrize("path", subcommand_paths(), ids=" ".join)
def test_every_subcommand_has_help(path: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*path, "--help"])
    assert caught.value.code == 0
    assert "usage: ristbond" in capsys.readouterr().out


def test_config_check_valid_file_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ok.toml"
    path.write_text("version = 2\n[sender]\nlatency_ms = 800\n")
    assert main(["config", "check", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: ok"


def test_config_check_invalid_file_exits_2_with_the_key_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[receiver]\noutptu = 'udp://127.0.0.1:5000'\n")
    assert main(["config", "check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (
        "ristbond: config error: receiver.outptu: unknown key — did you mean 'output'?"
    )


def test_config_check_missing_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "/nonexistent/ristbond.toml"]) == 2
    assert "no such config file" in capsys.readouterr().err


def test_config_show_redacts_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[[links]]\nid = "a"\nurl = "rist://h:5000?secret=topsecret"\n'
        '[links.options]\nsecret = "alsosecret"\n'
    )
    assert main(["config", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "topsecret" not in out and "alsosecret" not in out
    assert 'secret = "***"' in out


def test_config_migrate_prints_and_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.toml"
    path.write_text('version = 1\nscheduler = "dwrr"\n')
    assert main(["config", "migrate", str(path)]) == 0
    captured = capsys.readouterr()
    assert "version = 2" in captured.out and '[scheduler]\nname = "dwrr"' in captured.out
    assert "migrated: scheduler = 'dwrr' became [scheduler]" in captured.err
    assert main(["config", "migrate", "--write", str(path)]) == 0
    assert path.read_text().startswith("version = 2")
    assert (tmp_path / "old.toml.bak").read_text().startswith("version = 1")


def test_plugins_json_lists_objects(capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISTBOND_PLUGINS", "core")
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any({"name": "jsonl", "kind": "telemetry"}.items() <= row.items() for row in rows)
    assert all({"name", "kind", "distribution", "version"} <= row.keys() for row in rows)


def test_config_errors_never_print_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    # An odd port makes the URL invalid, so the error quotes the value back.
    path.write_text('[[links]]\nid = "a"\nurl = "rist://h:5001?secret=topsecret&aes-type=128"\n')
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "links[0].url" in err
    assert "topsecret" not in err
    assert "secret=***" in err
