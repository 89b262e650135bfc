"""Fuzz every parser with random and mutated datagrams: only ProtocolError may escape.

Seeds are the captured peer datagrams plus one valid packet of every type we build;
mutations are bit flips, truncation, extension, length-field corruption, header
splicing and concatenation. Seeded, so a failure reproduces exactly.
"""

from __future__ import annotations

import contextlib
import random
import struct
import time
from collections.abc import Callable

import pytest

from ristbond_core.wire import (
    AppPacket,
    ExtendedReport,
    GenericNack,
    Goodbye,
    LinkReceiverReport,
    ProtocolError,
    ReceiverReport,
    ReportBlock,
    RistEchoRequest,
    RistEchoResponse,
    RistRangeNack,
    RistSeqExtension,
    RtcpPacket,
    RtpExtension,
    RtpPacket,
    SdesChunk,
    SdesItem,
    SenderReport,
    SourceDescription,
    UnknownRtcp,
    XrBlock,
    build_compound,
    classify_datagram,
    parse_compound,
    parse_compound_prefix,
    unpack_rtp_header,
)

from .captures import all_capture_datagrams

DATAGRAMS = 200_000
SEED = 0x5EED_2026

SSRC = 0x0BAD_CAFE
BUILT: list[RtcpPacket] = [
    SenderReport(SSRC, 1 << 60, 5, 6, 7, (ReportBlock(1, 2, -3, 4, 5, 6, 7),), b"ext!"),
    ReceiverReport(SSRC, (ReportBlock(9), ReportBlock(10))),
    SourceDescription(
        (SdesChunk(SSRC, (SdesItem(1, b"cname"), SdesItem(8, b"p"))), SdesChunk(1, ()))
    ),
    Goodbye((SSRC, 2), b"bye"),
    ExtendedReport(SSRC, (XrBlock(4, 0, bytes(8)), XrBlock(99, 1, b"abcd"))),
    GenericNack(1, SSRC, ((100, 0xFFFF), (200, 1))),
    RistRangeNack(SSRC, ((65530, 10), (7, 0))),
    RistSeqExtension(SSRC, 3),
    RistEchoRequest(SSRC, 1 << 50, 0),
    RistEchoResponse(SSRC, 1 << 50, 100),
    LinkReceiverReport(SSRC, 1, 2, 3, 4, 5, 6, -7),
    AppPacket(4, SSRC, b"ABCD", b"data"),
    UnknownRtcp(210, 1, b"1234"),
]
PARSE_ONE: list[Callable[[bytes], object]] = [type(p).parse for p in BUILT]


def _seeds() -> list[bytes]:
    rtp = [
        bytes(RtpPacket(1, 2, SSRC, bytes(1316))),
        bytes(
            RtpPacket(
                3,
                4,
                SSRC | 1,
                b"x",
                marker=True,
                csrcs=(1, 2),
                extension=RtpExtension(0xBEDE, b"\x10\x01\x00\x00"),
                padding=b"\x00\x02",
            )
        ),
    ]
    rtcp = [bytes(p) for p in BUILT] + [build_compound(BUILT[:3]), build_compound(BUILT)]
    return rtp + rtcp + all_capture_datagrams()


def _mutate(rng: random.Random, seeds: list[bytes]) -> bytes:
    base = bytearray(rng.choice(seeds))
    action = rng.randrange(8)
    if action == 0:  # pure noise, often with a valid version
        noise = bytearray(rng.randbytes(rng.randrange(0, 80)))
        if noise and rng.random() < 0.7:
            noise[0] = 0x80 | (noise[0] & 0x3F)
        return bytes(noise)
    if action == 1 and base:  # bit flips
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(base))
            base[i] ^= 1 << rng.randrange(8)
    elif action == 2:  # truncation
        del base[rng.randrange(len(base) + 1) :]
    elif action == 3:  # extension with junk
        base += rng.randbytes(rng.randrange(1, 12))
    elif action == 4 and len(base) >= 4:  # corrupt an RTCP-ish length/count field
        at = rng.randrange(0, len(base) - 3) & ~3
        struct.pack_into(">H", base, at + 2, rng.choice([0, 1, 2, 0xFFFF, rng.randrange(1 << 16)]))
        base[at] = (base[at] & 0xE0) | rng.randrange(32)
    elif action == 5:  # concatenation
        base += rng.choice(seeds)
    elif action == 6 and len(base) >= 2:  # splice RTCP types / padding bits
        base[1] = rng.choice([200, 201, 202, 203, 204, 205, 206, 207, 33, 0xA1])
        base[0] |= rng.choice([0, 0x20, 0x10, 0x0F])
    else:  # byte overwrite
        for _ in range(rng.randint(1, 4)):
            if base:
                base[rng.randrange(len(base))] = rng.randrange(256)
    return bytes(base)


def _run_all_parsers(data: bytes, i: int) -> None:
    for parse in (classify_datagram, RtpPacket.parse, unpack_rtp_header):
        with contextlib.suppress(ProtocolError):
            parse(data)
    with contextlib.suppress(ProtocolError):
        for packet in parse_compound(data):
            if isinstance(packet, GenericNack | RistRangeNack):
                assert len(packet.lost_sequence_numbers()) <= 65536
    with contextlib.suppress(ProtocolError):
        packets, _tail = parse_compound_prefix(data)
        assert packets  # it raises rather than return nothing
    with contextlib.suppress(ProtocolError):
        PARSE_ONE[i % len(PARSE_ONE)](data)


@pytest.mark.slow
def test_only_protocol_errors_escape_from_any_parser() -> None:
    rng = random.Random(SEED)
    seeds = _seeds()
    started = time.perf_counter()
    for i in range(DATAGRAMS):
        data = _mutate(rng, seeds)
        try:
            _run_all_parsers(data, i)
        except Exception as exc:  # pragma: no cover - the failure report
            pytest.fail(f"datagram #{i} {data.hex()} raised {type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - started
    print(f"fuzzed {DATAGRAMS} datagrams through every parser in {elapsed:.1f} s")
