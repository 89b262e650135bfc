"""Log output never carries a secret: message args, exception text, extra fields."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from ristbond_core.telemetry.logs import configure_logging, scrub

SECRET = "hunter2-Xy9"
URL = f"rist://relay.example:5000?secret={SECRET}&weight=2"


@pytest.fixture(params=[False, True], ids=["text", "json"])
def captured(request: pytest.FixtureRequest) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    logger = logging.getLogger(f"ristbond.test.logs.{request.param}")
    logger.propagate = False
    handler = configure_logging(logging.DEBUG, json_lines=request.param, stream=stream,
                                logger=logger)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_secret_in_message_args_is_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.warning("connecting to %s", URL)
    assert SECRET not in stream.getvalue()
    assert "secret=***" in stream.getvalue()
    assert "weight=2" in stream.getvalue()


def test_secret_in_a_dict_arg_is_masked_by_key(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("link options %s", {"psk": SECRET, "weight": 3})
    logger.info("%(who)s uses %(srp_password)s", {"who": "lte1", "srp_password": SECRET})
    assert SECRET not in stream.getvalue()
    assert "lte1 uses ***" in stream.getvalue()


def test_free_text_key_value_secrets_are_masked(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.error(f"handshake failed with psk={SECRET} and token: {SECRET}")
    assert SECRET not in stream.getvalue()


def test_userinfo_in_urls_is_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("peer %s", f"rist://operator:{SECRET}@10.0.0.2:6000")
    assert SECRET not in stream.getvalue()


def test_exception_text_is_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise ConnectionError(f"cannot reach {URL}")
    except ConnectionError:
        logger.exception("sender stopped")
    output = stream.getvalue()
    assert "ConnectionError" in output
    assert "Traceback" in output
    assert SECRET not in output


def test_extra_fields_are_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("link up", extra={"link_id": "lte1", "url": URL, "passphrase": SECRET,
                                  "options": {"token": SECRET, "iface": "wwan0"}})
    output = stream.getvalue()
    assert SECRET not in output
    assert "lte1" in output
    assert "wwan0" in output


def test_json_lines_are_one_object_per_record() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("ristbond.test.logs.shape")
    logger.propagate = False
    handler = configure_logging(logging.INFO, json_lines=True, stream=stream, logger=logger)
    try:
        logger.info("link %s is %s", "lte1", "live", extra={"link_id": "lte1", "rtt_ms": 41.5})
        logger.debug("not shown")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["message"] == "link lte1 is live"
    assert record["level"] == "info"
    assert record["logger"] == "ristbond.test.logs.shape"
    assert (record["link_id"], record["rtt_ms"]) == ("lte1", 41.5)
    assert record["time"].endswith("Z")


def test_configuring_twice_replaces_the_handler() -> None:
    logger = logging.getLogger("ristbond.test.logs.twice")
    first = configure_logging(stream=io.StringIO(), logger=logger)
    second = configure_logging(stream=io.StringIO(), logger=logger)
    try:
        assert first not in logger.handlers
        assert second in logger.handlers
    finally:
        logger.removeHandler(second)


def test_a_bad_format_string_is_still_logged(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.warning("value %d", "not a number")
    assert "value %d" in stream.getvalue()


@pytest.mark.parametrize(
    "text",
    ["psk=abc", "password: 'abc'", "srp-password=abc", "api_key=abc",
     "rist://h:1?passphrase=abc", "udp://u:abc@h:1"],
)
def test_scrub_masks(text: str) -> None:
    assert "abc" not in scrub(text)


def test_scrub_leaves_ordinary_text_alone() -> None:
    text = "link lte1 rtt=40 ms loss=0.01 weight=2 rist://10.0.0.1:5000?weight=3"
    assert scrub(text) == text
