"""Human units for impairments: what is accepted, and errors that name the option."""

from __future__ import annotations

from pathlib import Path

import pytest

from ristbond_core.errors import RistbondError
from ristbond_core.relay.spec import load_links_file, model_from
from ristbond_core.relay.units import (
    parse_count,
    parse_duration_ms,
    parse_endpoint,
    parse_rate_bps,
    parse_ratio,
)


@pytest.mark.parametrize(
    ("text", "bps"),
    [("5mbit", 5e6), ("800kbit", 800e3), ("2.5Mbit", 2.5e6), ("1gbit", 1e9),
     ("100kbps", 800e3), ("64000", 64e3), (" 3 mbit ", 3e6), (1500000, 1.5e6)],
)
def test_rates_read_tc_style_units(text: object, bps: float) -> None:
    assert parse_rate_bps("--rate", text) == pytest.approx(bps)


@pytest.mark.parametrize(
    ("text", "ms"),
    [("30ms", 30.0), ("1.5s", 1500.0), ("500us", 0.5), ("0ms", 0.0), ("12", 12.0), (40, 40.0)],
)
def test_durations_read_to_milliseconds(text: object, ms: float) -> None:
    assert parse_duration_ms("--delay", text) == pytest.approx(ms)


@pytest.mark.parametrize(
    ("text", "ratio"), [("2%", 0.02), ("0.5%", 0.005), ("0.02", 0.02), ("100%", 1.0), (0, 0.0)]
)
def test_loss_reads_percent_or_fraction(text: object, ratio: float) -> None:
    assert parse_ratio("--loss", text) == pytest.approx(ratio)


@pytest.mark.parametrize(
    ("parser", "option", "text"),
    [
        (parse_rate_bps, "--rate", "5 parsecs"),
        (parse_rate_bps, "--rate", "0mbit"),
        (parse_rate_bps, "--rate", "-1mbit"),
        (parse_rate_bps, "--rate", "fast"),
        (parse_duration_ms, "--delay", "30 fortnights"),
        (parse_duration_ms, "--jitter", "-5ms"),
        (parse_ratio, "--loss", "150%"),
        (parse_ratio, "--loss", "2ms"),
        (parse_ratio, "--loss", True),
        (parse_count, "--queue", "0"),
        (parse_count, "--queue", "ten"),
        (parse_endpoint, "--listen", "127.0.0.1"),
        (parse_endpoint, "--listen", "127.0.0.1:65535"),
        (parse_endpoint, "--forward", ":5000"),
    ],
)
def test_bad_values_name_the_option_and_the_value(parser: object, option: str, text: object
                                                  ) -> None:
    with pytest.raises(RistbondError) as caught:
        parser(option, text)  # type: ignore[operator]
    message = str(caught.value)
    assert message.startswith(f"{option}: ")
    assert repr(text) in message
    assert "\n" not in message


def test_endpoints_accept_plain_and_rist_urls() -> None:
    assert parse_endpoint("--listen", "127.0.0.1:6000") == ("127.0.0.1", 6000)
    assert parse_endpoint("--forward", "rist://127.0.0.1:6002") == ("127.0.0.1", 6002)
    assert parse_endpoint("--listen", "rist://@127.0.0.1:6004") == ("127.0.0.1", 6004)
    assert parse_endpoint("--listen", "[::1]:6006") == ("::1", 6006)


def test_model_without_options_has_no_impairment() -> None:
    model = model_from({}, "")
    assert (model.delay_ms, model.jitter_ms, model.loss, model.rate_bps) == (0.0, 0.0, 0.0, None)


def test_links_file_sets_each_link_and_reverse_overrides(tmp_path: Path) -> None:
    path = tmp_path / "links.toml"
    path.write_text(
        '[[links]]\nname = "lte"\nlisten = "127.0.0.1:6000"\nforward = "127.0.0.1:7000"\n'
        'rate = "5mbit"\ndelay = "30ms"\njitter = "10ms"\nloss = "2%"\nqueue = 50\n'
        'ge_p = 0.01\nreorder = "1%"\n'
        '[links.reverse]\ndelay = "80ms"\nloss = 0\n'
        '[[links]]\nlisten = "127.0.0.1:6002"\nforward = "127.0.0.1:7002"\n'
    )
    lte, second = load_links_file(path)
    assert lte.name == "lte" and lte.listen == ("127.0.0.1", 6000)
    forward, reverse = lte.forward_model, lte.reverse_model
    assert (forward.rate_bps, forward.delay_ms, forward.jitter_ms) == (5e6, 30.0, 10.0)
    assert (forward.loss, forward.queue_packets, forward.ge_p) == (0.02, 50, 0.01)
    assert forward.reorder == pytest.approx(0.01)
    assert (reverse.delay_ms, reverse.loss, reverse.rate_bps) == (80.0, 0.0, 5e6)
    assert second.name == "link1" and second.forward_model.delay_ms == 0.0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('[[links]]\nlisten = "127.0.0.1:6000"\nforward = "127.0.0.1:7000"\nrat = "5mbit"\n',
         "links[0].rat: unknown impairment"),
        ('[[links]]\nlisten = "127.0.0.1:6000"\nforward = "127.0.0.1:7000"\ndelay = "3 weeks"\n',
         "links[0].delay: cannot read '3 weeks'"),
        ('[[links]]\nlisten = "127.0.0.1:6000"\n', "links[0].forward: missing"),
        ('[[links]]\nlisten = "127.0.0.1:6000"\nforward = "127.0.0.1:7000"\n'
         '[links.reverse]\nloss = "200%"\n', "links[0].reverse.loss: cannot read"),
        ('[[links]]\nlisten = "127.0.0.1:6000"\nforward = "127.0.0.1:7000"\n'
         '[[links]]\nlisten = "127.0.0.1:6000"\nforward = "127.0.0.1:7002"\n', "used twice"),
        ('links = 3\n', "needs at least one [[links]]"),
        ('[[link]]\nlisten = "127.0.0.1:6000"\n', "unknown key 'link'"),
        ('[[links]\n', "not valid TOML"),
        ('[[links]]\nlisten = "127.0.0.1:6000"\nforward = "127.0.0.1:7000"\nge_p = 1.5\n',
         "links[0].ge_p: cannot read 1.5"),
        ('[[links]]\nlisten = "127.0.0.1:6000"\nforward = "127.0.0.1:7000"\nup = 1\n',
         "links[0].up: expected true or false"),
    ],
)
def test_links_file_errors_name_the_key(tmp_path: Path, body: str, needle: str) -> None:
    path = tmp_path / "links.toml"
    path.write_text(body)
    with pytest.raises(RistbondError, match=None) as caught:
        load_links_file(path)
    assert needle in str(caught.value)
    assert str(path) in str(caught.value)
