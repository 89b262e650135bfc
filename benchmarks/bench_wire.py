"""Per-operation cost of the wire codec on this machine.

Run: ``python benchmarks/bench_wire.py [--quick]``. Prints ns per operation for the
per-packet paths (RTP header build/parse) and the per-RTCP paths (compound parse,
NACK encode). Numbers are best-of-5 means over N iterations, using perf_counter_ns.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from ristbond_core.wire import (
    GenericNack,
    ReceiverReport,
    RistEchoRequest,
    RistRangeNack,
    RtpPacket,
    SenderReport,
    SeqExtender,
    SourceDescription,
    build_compound,
    classify_datagram,
    generic_nack_records,
    pack_rtp_header_into,
    parse_compound,
    range_nack_records,
    unpack_rtp_header,
)

SSRC = 0x8846_4832


def bench(name: str, iterations: int, body: Callable[[int], object]) -> float:
    """Best mean ns/op over 5 rounds of ``iterations`` calls of ``body(i)``."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter_ns()
        for i in range(iterations):
            body(i)
        best = min(best, (time.perf_counter_ns() - start) / iterations)
    print(f"{name:<52} {best:9.0f} ns/op")
    return best


def main(argv: list[str]) -> None:
    n = 20_000 if "--quick" in argv else 200_000
    payload = bytes([0x47]) + bytes(187)
    buf = bytearray(12 + 7 * 188)
    buf[12:] = payload * 7
    view = memoryview(buf)
    datagram = bytes(RtpPacket(1, 90_000, SSRC, payload * 7))

    sender_rtcp = build_compound(
        [
            SenderReport(SSRC, 0xEEAE_156B_2657_7B22, 90_000),
            SourceDescription.with_cname(SSRC, "vm"),
            RistEchoRequest(SSRC, 0x83AA_7FCD_5BF6_E1AF),
        ]
    )
    losses = [1000 + 3 * k for k in range(10)] + list(range(2000, 2010))
    receiver_rtcp = build_compound(
        [
            ReceiverReport(SSRC),
            SourceDescription.with_cname(SSRC, "vm@127.0.0.1:21011"),
            RistRangeNack(SSRC, tuple(range_nack_records(losses))),
        ]
    )
    gst_rtcp = build_compound(
        [
            ReceiverReport(0x8729_790E),
            SourceDescription.with_cname(0x8729_790E, "user1077683452@host-fb803cf9"),
            GenericNack(0x8729_790E, SSRC, tuple(generic_nack_records(losses))),
        ]
    )
    extender = SeqExtender()

    print(f"wire codec, {n} iterations per row, Python {sys.version.split()[0]}")
    bench("baseline: loop + call, no work (subtract from rows)", n, lambda i: None)
    bench(
        "RTP header build (pack_rtp_header_into)",
        n,
        lambda i: pack_rtp_header_into(view, 0, i & 0xFFFF, i * 3000, SSRC),
    )
    bench("RTP header parse (unpack_rtp_header)", n, lambda i: unpack_rtp_header(datagram))
    bench("classify_datagram", n, lambda i: classify_datagram(datagram))
    bench("RtpPacket.parse (1328-byte datagram)", n, lambda i: RtpPacket.parse(datagram))
    packet = RtpPacket.parse(datagram)
    bench("RtpPacket.to_bytes", n, lambda i: packet.to_bytes())
    bench("SeqExtender.extend", n, lambda i: extender.extend(i & 0xFFFF))
    bench(
        f"parse_compound SR+SDES+echo ({len(sender_rtcp)} B)",
        n // 4,
        lambda i: parse_compound(sender_rtcp),
    )
    bench(
        f"parse_compound RR+SDES+range NACK ({len(receiver_rtcp)} B)",
        n // 4,
        lambda i: parse_compound(receiver_rtcp),
    )
    bench(
        f"parse_compound RR+SDES+generic NACK ({len(gst_rtcp)} B)",
        n // 4,
        lambda i: parse_compound(gst_rtcp),
    )
    compound = parse_compound(sender_rtcp)
    bench("build_compound SR+SDES+echo", n // 4, lambda i: build_compound(compound))
    bench("range NACK encode (20 losses -> records)", n // 4, lambda i: range_nack_records(losses))
    bench(
        "generic NACK encode (20 losses -> records)", n // 4, lambda i: generic_nack_records(losses)
    )


if __name__ == "__main__":
    main(sys.argv[1:])
