"""Human units for impairment options: ``5mbit``, ``800kbit``, ``30ms``, ``2%``, ``HOST:PORT``.

Every parser takes the name of the option it reads so a mistake is reported as
``--rate: ...`` (or a links-file key), which is what the user has to fix.
"""

from __future__ import annotations

import math
import re

from ristbond_core.errors import RistbondError

_NUMBER_UNIT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Z%/]*)\s*$")

# Rates follow tc's spelling: bit-based units, and ``bps`` meaning bytes per second.
_RATE_FACTORS: dict[str, float] = {
    "": 1.0,
    "bit": 1.0,
    "kbit": 1e3,
    "mbit": 1e6,
    "gbit": 1e9,
    "bps": 8.0,
    "kbps": 8e3,
    "mbps": 8e6,
    "gbps": 8e9,
    "k": 1e3,
    "m": 1e6,
    "g": 1e9,
}

_DURATION_MS_FACTORS: dict[str, float] = {
    "us": 1e-3,
    "ms": 1.0,
    "s": 1e3,
    "sec": 1e3,
}


class UnitError(RistbondError):
    """A value that is not a number with a known unit; names the option it came from."""

    def __init__(self, option: str, value: object, expected: str) -> None:
        self.option = option
        self.value = value
        super().__init__(f"{option}: cannot read {value!r}: expected {expected}")


def _split(option: str, value: object, expected: str) -> tuple[float, str]:
    """Number and lower-case unit of ``value``; plain numbers are allowed."""
    if isinstance(value, bool):
        raise UnitError(option, value, expected)
    if isinstance(value, int | float):
        number, unit = float(value), ""
    elif isinstance(value, str):
        match = _NUMBER_UNIT.match(value)
        if match is None:
            raise UnitError(option, value, expected)
        number, unit = float(match.group(1)), match.group(2).lower()
    else:
        raise UnitError(option, value, expected)
    if not math.isfinite(number) or number < 0:
        raise UnitError(option, value, expected)
    return number, unit


def parse_rate_bps(option: str, value: object) -> float:
    """A rate in bit/s from ``5mbit``, ``800kbit``, ``2.5Mbit``, ``100kbps`` (bytes) or bits."""
    expected = "a rate such as 5mbit, 800kbit or 1gbit"
    number, unit = _split(option, value, expected)
    factor = _RATE_FACTORS.get(unit)
    if factor is None or number <= 0:
        raise UnitError(option, value, expected)
    return number * factor


def parse_duration_ms(option: str, value: object) -> float:
    """A duration in ms from ``30ms``, ``1.5s``, ``500us``; a plain number means ms."""
    expected = "a duration such as 30ms, 1.5s or 500us"
    number, unit = _split(option, value, expected)
    factor = 1.0 if unit == "" else _DURATION_MS_FACTORS.get(unit)
    if factor is None:
        raise UnitError(option, value, expected)
    return number * factor


def parse_ratio(option: str, value: object) -> float:
    """A probability from ``2%`` or ``0.02``; must lie in [0, 1]."""
    expected = "a percentage such as 2% or a fraction such as 0.02"
    number, unit = _split(option, value, expected)
    if unit == "%":
        number /= 100.0
    elif unit != "":
        raise UnitError(option, value, expected)
    if number > 1.0:
        raise UnitError(option, value, expected)
    return number


def parse_count(option: str, value: object) -> int:
    """A positive whole number (queue length in packets)."""
    expected = "a whole number of packets greater than 0"
    if isinstance(value, bool):
        raise UnitError(option, value, expected)
    if isinstance(value, int):
        count = value
    elif isinstance(value, str) and value.strip().isdigit():
        count = int(value.strip())
    else:
        raise UnitError(option, value, expected)
    if count <= 0:
        raise UnitError(option, value, expected)
    return count


def parse_endpoint(option: str, value: object) -> tuple[str, int]:
    """``HOST:PORT`` (IPv4 or name; ``[v6]:port`` also accepted) with an even-or-odd port.

    The relay uses PORT for RTP and PORT+1 for RTCP, so PORT must leave room for both.
    """
    expected = "HOST:PORT such as 127.0.0.1:5000"
    if not isinstance(value, str):
        raise UnitError(option, value, expected)
    text = value.strip()
    for prefix in ("rist://@", "rist://", "udp://@", "udp://"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise UnitError(option, value, expected)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    port = int(port_text)
    if not 1 <= port <= 65534:
        raise UnitError(option, value, "a port from 1 to 65534 (PORT+1 carries RTCP)")
    return host, port
