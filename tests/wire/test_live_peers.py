"""Re-capture from the peers installed on this machine and decode everything.

The committed fixtures pin one peer version; this checks the codec against whatever
librist/GStreamer is installed now, with the same capture script.
"""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path
from types import ModuleType

import pytest

from ristbond_core.wire import (
    ExtendedReport,
    GenericNack,
    Goodbye,
    RistEchoRequest,
    RistEchoResponse,
    RistRangeNack,
    RtpPacket,
    SenderReport,
    build_compound,
    parse_compound_prefix,
)
from tests.conftest import require_program

from .captures import FIXTURES, Datagram, load_capture_file

pytestmark = [pytest.mark.interop, pytest.mark.slow]


def _capture_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wire_capture", FIXTURES / "capture.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_base(offsets: tuple[int, ...]) -> int:
    """A port base in 21300..21980 whose scenario ports are all free right now.

    The suite may run more than once at a time on a shared machine; fixed ports would
    make the runs capture each other's traffic.
    """
    for base in range(21300, 21990 - max(offsets), 20):
        sockets = []
        try:
            for offset in offsets:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base
    pytest.skip("no free port block in 21300..21999")


def _decode_all(datagrams: list[Datagram]) -> set[type]:
    """Decode every datagram, check the exact round trip, return the types seen."""
    seen: set[type] = set()
    for datagram in datagrams:
        if datagram.is_rtcp_port:
            # ristsrc sometimes ends its RTCP with 4 stray bytes: the packets before them
            # must still decode and round-trip exactly.
            packets, tail = parse_compound_prefix(datagram.data)
            encoded = build_compound(packets)
            if tail is None:
                assert encoded == datagram.data
            else:
                assert datagram.data.startswith(encoded)
                assert len(datagram.data) - len(encoded) <= 4
            seen.update(type(p) for p in packets)
        else:
            assert bytes(RtpPacket.parse(datagram.data)) == datagram.data
            seen.add(RtpPacket)
    return seen


def test_live_librist_simple_profile_decodes(tmp_path: Path) -> None:
    require_program("ristsender", "rist-tools")
    require_program("ristreceiver", "rist-tools")
    capture = _capture_module()
    path = capture.capture_librist(tmp_path, _free_base(capture.PORT_OFFSETS))
    seen = _decode_all(load_capture_file(path))
    assert {
        SenderReport,
        RistEchoRequest,
        RistEchoResponse,
        RistRangeNack,
        ExtendedReport,
        RtpPacket,
    } <= seen


def test_live_gstreamer_rist_decodes(tmp_path: Path) -> None:
    require_program("gst-launch-1.0", "gstreamer1.0-tools gstreamer1.0-plugins-bad")
    capture = _capture_module()
    path = capture.capture_gstreamer(tmp_path, _free_base(capture.PORT_OFFSETS))
    seen = _decode_all(load_capture_file(path))
    assert {SenderReport, GenericNack, Goodbye, RtpPacket} <= seen
