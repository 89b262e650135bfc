"""Options validation and librist URL building (no librist needed)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from ristbond_transport_librist.options import (
    LibristOptions,
    listener_url,
    parse_link_options,
    sender_url,
)
from ristbond_transport_librist.transport import share_weight

from ristbond_core.errors import RistbondError

SECRET = "s3cret-value"


def test_unknown_link_key_is_an_error_naming_the_key_and_the_link() -> None:
    with pytest.raises(RistbondError, match=r"link 'a'.*unknown librist option 'bufer'"):
        parse_link_options({"bufer": 100}, "link 'a'")


def test_both_spellings_of_a_librist_key_are_accepted() -> None:
    assert parse_link_options({"aes-type": 256}, "x").aes_type == 256
    assert parse_link_options({"aes_type": "128"}, "x").aes_type == 128
    assert parse_link_options({"rtt-min": "20"}, "x").rtt_min == 20


def test_bad_aes_type_names_the_key() -> None:
    with pytest.raises(RistbondError, match=r"aes.type.*128 or 256"):
        parse_link_options({"aes-type": 192}, "link 'a'")


def test_a_rejected_secret_is_not_echoed() -> None:
    with pytest.raises(RistbondError) as info:
        parse_link_options({"secret": "bad&secret"}, "link 'a'")
    assert "secret" in str(info.value)
    assert "bad&secret" not in str(info.value)


def test_secret_is_masked_in_repr() -> None:
    options = parse_link_options({"secret": SECRET}, "x")
    assert SECRET not in repr(options)
    assert SECRET not in str(options)


def test_transport_options_reject_unknown_keys_and_bounds() -> None:
    assert LibristOptions().profile == "main"
    with pytest.raises(ValidationError, match="profil"):
        LibristOptions.model_validate({"profil": "main"})
    with pytest.raises(ValidationError, match="stats_interval_ms"):
        LibristOptions.model_validate({"stats_interval_ms": 10})


def test_sender_url_maps_latency_to_buffer_and_names_the_link() -> None:
    url = sender_url("127.0.0.1", 9000, parse_link_options({}, "x"), latency_ms=800,
                     cname="cell-1", weight=5)
    assert url == "rist://127.0.0.1:9000?buffer=800&cname=cell-1&weight=5"


def test_a_link_buffer_overrides_the_session_latency() -> None:
    options = parse_link_options({"buffer": 300, "rtt-max": 400}, "x")
    url = sender_url("127.0.0.1", 9000, options, latency_ms=800, cname=None, weight=1)
    assert url == "rist://127.0.0.1:9000?buffer=300&rtt-max=400&weight=1"


def test_secret_is_in_the_url_for_librist_and_masked_in_the_shown_url() -> None:
    options = parse_link_options({"secret": SECRET, "aes-type": 256}, "x")
    real = listener_url("0.0.0.0", 9000, options, latency_ms=500)
    shown = listener_url("0.0.0.0", 9000, options, latency_ms=500, mask=True)
    assert real == f"rist://@0.0.0.0:9000?buffer=500&secret={SECRET}&aes-type=256"
    assert SECRET not in shown and "secret=***" in shown


def test_ipv6_hosts_are_bracketed() -> None:
    url = listener_url("::1", 9000, parse_link_options({}, "x"), latency_ms=100)
    assert url.startswith("rist://@[::1]:9000?")


@pytest.mark.parametrize(("share", "weight"),
                         [(0.0, 1), (-1.0, 1), (0.001, 1), (0.25, 25), (0.5, 50), (1.0, 100)])
def test_shares_become_positive_weights(share: float, weight: int) -> None:
    assert share_weight(share) == weight
