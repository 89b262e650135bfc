"""Config: every error class names its key; migration, overrides and redaction."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ristbond_core.config import CURRENT_VERSION, load_config
from ristbond_core.config.migrate import migrate
from ristbond_core.config.redact import redact, redact_text
from ristbond_core.config.toml_write import dumps
from ristbond_core.errors import ConfigError
from ristbond_core.plugins import PluginHost
from tests.core.test_plugin_host import good_plugin

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ristbond.toml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str, **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ=kwargs.pop("environ", {}), **kwargs)
    return caught.value.problems


def test_no_file_gives_explicit_defaults() -> None:
    config = load_config(None, environ={})
    assert config.version == CURRENT_VERSION
    assert config.sender.latency_ms == 1000
    assert config.sender.bitrate_kbps == 5000
    assert config.receiver.max_jitter_ms == 50
    assert config.sender.pacing == "input"
    assert config.scheduler.name == "dwrr"
    assert config.transport.name == "udp"


def test_a_type_error_names_the_key_and_the_fix(tmp_path: Path) -> None:
    assert problems(tmp_path, '[sender]\nlatency_ms = "soon"\n') == [
        "sender.latency_ms: value 'soon' is invalid: Input should be a valid integer, "
        "unable to parse string as an integer — use a whole number"
    ]


def test_a_range_error_names_the_key_and_the_bound(tmp_path: Path) -> None:
    [line] = problems(tmp_path, "[receiver]\nlatency_ms = 5\n")
    assert line.startswith("receiver.latency_ms: value 5 is invalid")
    assert line.endswith("use a value >= 20")


def test_an_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    assert problems(tmp_path, "[sender]\nlatncy_ms = 500\n") == [
        "sender.latncy_ms: unknown key — did you mean 'latency_ms'?"
    ]


def test_an_unknown_section_lists_the_known_ones(tmp_path: Path) -> None:
    [line] = problems(tmp_path, "[sendr]\n")
    assert line.startswith("sendr: unknown key — did you mean 'sender'?")


def test_a_list_item_error_names_its_index(tmp_path: Path) -> None:
    text = '[[links]]\nid = "a"\nurl = "rist://10.0.0.1:5000"\n' \
           '[[links]]\nid = "b"\nurl = "rist://10.0.0.1:5001"\n'
    [line] = problems(tmp_path, text)
    assert line.startswith("links[1].url: value 'rist://10.0.0.1:5001' is invalid")
    assert "even RTP port" in line


def test_duplicate_link_ids_are_refused(tmp_path: Path) -> None:
    text = '[[links]]\nid = "a"\nurl = "rist://h:5000"\n[[links]]\nid = "a"\nurl = "rist://h:5000"\n'
    [line] = problems(tmp_path, text)
    assert line.startswith("links:") and "used twice" in line


def test_a_newer_version_is_a_clear_error(tmp_path: Path) -> None:
    [line] = problems(tmp_path, f"version = {CURRENT_VERSION + 1}\n")
    assert line.startswith("version:") and "newer than this ristbond supports" in line


@pytest.mark.parametrize("value", ['"two"', "0", "true"])
def test_a_malformed_version_is_a_clear_error(tmp_path: Path, value: str) -> None:
    [line] = problems(tmp_path, f"version = {value}\n")
    assert line.startswith("version:")


def test_invalid_toml_says_where(tmp_path: Path) -> None:
    [line] = problems(tmp_path, "[sender\n")
    assert "not valid TOML" in line and "line 1" in line


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml", environ={})


def test_a_bad_plugin_option_names_the_plugin_key(tmp_path: Path) -> None:
    host = PluginHost.from_plugins({"good": good_plugin()})
    text = '[scheduler]\nname = "pick-first"\n[scheduler.options]\noffset = "x"\n'
    [line] = problems(tmp_path, text, host=host)
    assert line.startswith("scheduler.options.offset: value 'x' is invalid")


def test_an_explicit_but_missing_plugin_names_the_key(tmp_path: Path) -> None:
    host = PluginHost.from_plugins({"good": good_plugin()})
    [line] = problems(tmp_path, '[scheduler]\nname = "pick-frist"\n', host=host)
    assert line.startswith("scheduler.name: no scheduler named 'pick-frist' is installed")
    assert "did you mean 'pick-first'?" in line


def test_a_missing_default_plugin_is_only_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    host = PluginHost.from_plugins({"good": good_plugin()})
    config = load_config(write(tmp_path, "[sender]\n"), environ={}, host=host)
    assert config.scheduler.name == "dwrr"
    assert "the default scheduler 'dwrr' is not installed" in caplog.text


def test_an_unknown_telemetry_exporter_is_named(tmp_path: Path) -> None:
    host = PluginHost.from_plugins({})
    [line] = problems(tmp_path, '[telemetry]\nexporters = ["jsnol"]\n', host=host)
    assert line.startswith("telemetry.exporters[0]: no telemetry named 'jsnol'")


def test_environment_overrides_win_and_are_named_in_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "[sender]\nlatency_ms = 800\n")
    config = load_config(path, environ={"RISTBOND__SENDER__LATENCY_MS": "1500"})
    assert config.sender.latency_ms == 1500
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={"RISTBOND__SENDER__LATENCY_MS": "-3"})
    [line] = caught.value.problems
    assert line.startswith("sender.latency_ms: value -3 is invalid")
    assert line.endswith("(set by environment variable RISTBOND__SENDER__LATENCY_MS)")


def test_an_environment_override_can_reach_a_list_item(tmp_path: Path) -> None:
    path = write(tmp_path, '[[links]]\nid = "a"\nurl = "rist://h:5000"\n')
    config = load_config(path, environ={"RISTBOND__LINKS__0__WEIGHT": "3.5"})
    assert config.links[0].weight == 3.5


V1 = """\
version = 1
transport = "udp"
scheduler = "weighted"
telemetry = ["jsonl"]

[scheduler_options]
weights = { a = 3 }

[[links]]
name = "lte1"
address = "198.51.100.7:5000"
"""


def test_version_1_is_migrated_with_a_note_per_change() -> None:
    raw, notes = migrate(tomllib.loads(V1))
    assert raw["version"] == CURRENT_VERSION
    assert raw["scheduler"] == {"name": "weighted", "options": {"weights": {"a": 3}}}
    assert raw["transport"] == {"name": "udp"}
    assert raw["telemetry"] == {"exporters": ["jsonl"]}
    assert raw["links"] == [{"id": "lte1", "url": "rist://198.51.100.7:5000"}]
    assert len(notes) == 6


def test_a_version_1_file_loads_as_current(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, V1), environ={})
    assert config.scheduler.name == "weighted"
    assert config.links[0].url == "rist://198.51.100.7:5000"


def test_secrets_are_redacted_by_key_and_inside_urls() -> None:
    data = {
        "links": [{"url": "rist://h:5000?secret=hunter2&cname=x", "options": {"secret": "k"}}],
        "srp_password": "p",
        "output": "udp://user:pw@127.0.0.1:5000",
    }
    text = repr(redact(data))
    assert "hunter2" not in text and "'k'" not in text and "'p'" not in text
    assert "pw@" not in text
    assert "cname=x" in text
    assert redact_text("rist://h:5000?aes-type=128&secret=abc") == "rist://h:5000?aes-type=128&secret=***"


TOML_KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-", min_size=1, max_size=8)
TOML_SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
TOML_TABLES = st.recursive(
    st.dictionaries(
        TOML_KEYS, st.one_of(TOML_SCALARS, st.lists(TOML_SCALARS, max_size=3)), max_size=4
    ),
    lambda children: st.dictionaries(
        TOML_KEYS, st.one_of(children, st.lists(children, min_size=1, max_size=2)), max_size=3
    ),
    max_leaves=6,
)


@given(TOML_TABLES)
def test_the_toml_writer_round_trips(data: dict[str, Any]) -> None:
    assert tomllib.loads(dumps(data)) == data


def without_none(value: Any) -> Any:
    """TOML has no null: unset optional keys are simply absent."""
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_none(v) for v in value]
    return value


def test_the_effective_config_round_trips_through_toml() -> None:
    config = load_config(None, environ={})
    dumped = config.model_dump(mode="json")
    assert tomllib.loads(dumps(dumped)) == without_none(dumped)


def test_the_nack_form_is_checked_by_name(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, '[receiver]\nnack_form = "generic"\n'),
                       environ={}).receiver.nack_form == "generic"
    [line] = problems(tmp_path, '[receiver]\nnack_form = "generik"\n')
    assert line.startswith("receiver.nack_form: value 'generik' is invalid")
    assert "'range' or 'generic'" in line
