"""NTP timestamp conversions for SR, XR RRTR and RIST echo packets.

The library never reads a clock: callers pass wall-clock or monotonic nanoseconds
(``now``) and, to go between the two, an explicit offset in :class:`NtpClock`. RTCP
uses three NTP forms: the full 64-bit timestamp (32.32 fixed point seconds since
1900), the "middle 32 bits" (16.16, in SR LSR fields), and short durations in 1/65536 s
(DLSR).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
NTP_UNIX_EPOCH_OFFSET_S: Final = 2_208_988_800
_NS: Final = 1_000_000_000
_U32: Final = 0xFFFF_FFFF
_U64: Final = 0xFFFF_FFFF_FFFF_FFFF


def ntp_from_unix_ns(unix_ns: int) -> int:
    """64-bit NTP timestamp for a Unix time in ns (seconds wrap at the 2036 era)."""
    seconds, rest_ns = divmod(unix_ns, _NS)
    fraction = (rest_ns << 32) // _NS
    return (((seconds + NTP_UNIX_EPOCH_OFFSET_S) & _U32) << 32) | fraction


def unix_ns_from_ntp(ntp: int) -> int:
    """Unix time in ns for a 64-bit NTP timestamp (nearest ns).

    Seconds with the top bit clear are read as NTP era 1 (from 2036), the usual
    convention (RFC 4330 section 3), so the mapping keeps working past 2036.
    """
    seconds = (ntp >> 32) & _U32
    if not seconds & 0x8000_0000:
        seconds += 1 << 32
    fraction_ns = ((ntp & _U32) * _NS + (1 << 31)) >> 32
    return (seconds - NTP_UNIX_EPOCH_OFFSET_S) * _NS + fraction_ns


def ntp_middle32(ntp: int) -> int:
    """The middle 32 bits of a 64-bit NTP timestamp (what SR LSR fields carry)."""
    return (ntp >> 16) & _U32


def ntp_short_to_ns(value: int) -> int:
    """A 16.16 NTP duration (e.g. DLSR) in ns."""
    return (value * _NS) >> 16


def ns_to_ntp_short(duration_ns: int) -> int:
    """A duration in ns as 16.16 NTP (saturates at the 32-bit maximum, floors at 0)."""
    return max(0, min(_U32, (duration_ns << 16) // _NS))


def ntp_duration_to_ns(delta: int) -> int:
    """A 32.32 NTP duration in ns."""
    return (delta * _NS) >> 32


@dataclass(frozen=True, slots=True)
class NtpClock:
    """Maps the process's monotonic ns to NTP time with one fixed offset.

    ``unix_minus_monotonic_ns`` is sampled once (wall ns - monotonic ns at the same
    instant) by whoever owns the clocks; keeping it fixed means a wall-clock jump never
    makes our NTP timestamps go backwards within a session.
    """

    unix_minus_monotonic_ns: int

    @classmethod
    def from_sample(cls, monotonic_ns: int, unix_ns: int) -> NtpClock:
        """Build from one simultaneous reading of both clocks."""
        return cls(unix_ns - monotonic_ns)

    def ntp_from_monotonic(self, monotonic_ns: int) -> int:
        """64-bit NTP timestamp for a monotonic instant."""
        return ntp_from_unix_ns(monotonic_ns + self.unix_minus_monotonic_ns)

    def monotonic_from_ntp(self, ntp: int) -> int:
        """Monotonic ns for a 64-bit NTP timestamp made by this clock."""
        return unix_ns_from_ntp(ntp) - self.unix_minus_monotonic_ns


def rtt_ns_from_report(arrival_ntp: int, last_sr: int, delay_since_last_sr: int) -> int | None:
    """RFC 3550 RTT from a report block: arrival - LSR - DLSR, in ns.

    Returns None when the peer has not seen an SR yet (LSR = 0); a negative result
    (clock or junk, as in librist's report blocks) is clamped to 0.
    """
    if last_sr == 0:
        return None
    delta = (ntp_middle32(arrival_ntp) - last_sr - delay_since_last_sr) & _U32
    if delta & 0x8000_0000:
        return 0
    return ntp_short_to_ns(delta)


def echo_rtt_ns(now_ntp: int, echoed_ntp: int, processing_delay_us: int) -> int:
    """RTT from a RIST echo response: now - echoed timestamp - responder delay, >= 0."""
    delta = (now_ntp - echoed_ntp) & _U64
    if delta & (1 << 63):
        return 0
    return max(0, ntp_duration_to_ns(delta) - processing_delay_us * 1000)
