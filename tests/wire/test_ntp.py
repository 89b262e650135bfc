"""NTP <-> time conversions; time is always a parameter."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ristbond_core.wire import (
    NtpClock,
    echo_rtt_ns,
    ntp_from_unix_ns,
    ntp_middle32,
    rtt_ns_from_report,
    unix_ns_from_ntp,
)
from ristbond_core.wire.ntp import ns_to_ntp_short, ntp_short_to_ns

# 1968-01-20 .. 2104-02-26: the span the era convention covers.
unix_ns = st.integers(-61_505_152 * 10**9, 4_233_462_143 * 10**9)


def test_unix_epoch_is_ntp_2208988800() -> None:
    assert ntp_from_unix_ns(0) == 2_208_988_800 << 32
    assert ntp_from_unix_ns(500_000_000) == (2_208_988_800 << 32) | (1 << 31)


@given(unix_ns)
def test_ntp_round_trip_is_within_one_ns(ns: int) -> None:
    assert abs(unix_ns_from_ntp(ntp_from_unix_ns(ns)) - ns) <= 1


def test_ntp_era_1_after_2036() -> None:
    after_2036 = 2_100_000_000 * 10**9
    ntp = ntp_from_unix_ns(after_2036)
    assert ntp >> 32 < 1 << 31  # seconds wrapped
    assert unix_ns_from_ntp(ntp) == after_2036


def test_middle32_takes_16_16_bits() -> None:
    assert ntp_middle32(0x1122_3344_5566_7788) == 0x3344_5566


@given(st.integers(0, 10**15), st.integers(-(10**18), 10**18))
def test_clock_maps_monotonic_to_ntp_and_back(mono: int, offset: int) -> None:
    clock = NtpClock(1_700_000_000 * 10**9 + offset % 10**17)
    assert abs(clock.monotonic_from_ntp(clock.ntp_from_monotonic(mono)) - mono) <= 1


def test_clock_from_sample_uses_the_difference() -> None:
    clock = NtpClock.from_sample(monotonic_ns=5_000, unix_ns=10_000)
    assert clock.ntp_from_monotonic(5_000) == ntp_from_unix_ns(10_000)


def test_rtt_from_report_block() -> None:
    sent = ntp_from_unix_ns(1_700_000_000 * 10**9)
    arrival = ntp_from_unix_ns(1_700_000_000 * 10**9 + 80_000_000)
    dlsr = ns_to_ntp_short(30_000_000)
    rtt = rtt_ns_from_report(arrival, ntp_middle32(sent), dlsr)
    assert rtt is not None
    assert abs(rtt - 50_000_000) < 50_000  # 16.16 resolution is ~15 us


def test_rtt_without_a_previous_sr_is_unknown_and_never_negative() -> None:
    assert rtt_ns_from_report(1 << 40, 0, 0) is None
    assert rtt_ns_from_report(ntp_from_unix_ns(0), ntp_middle32(ntp_from_unix_ns(10**9)), 0) == 0


def test_echo_rtt_subtracts_the_responder_delay() -> None:
    t0 = ntp_from_unix_ns(10**18)
    t1 = ntp_from_unix_ns(10**18 + 40_000_000)
    assert abs(echo_rtt_ns(t1, t0, 10_000) - 30_000_000) <= 1
    assert echo_rtt_ns(t0, t1, 0) == 0


@given(st.integers(0, 60 * 10**9))
def test_ntp_short_round_trip_is_within_resolution(ns: int) -> None:
    assert abs(ntp_short_to_ns(ns_to_ntp_short(ns)) - ns) <= 16_000
