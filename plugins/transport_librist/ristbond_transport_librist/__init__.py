"""ristbond's ``librist`` transport: librist runs the RIST session, the core steers it."""

from ristbond_transport_librist.binding import LibristError, LibristUnavailable
from ristbond_transport_librist.options import LibristLinkOptions, LibristOptions
from ristbond_transport_librist.transport import LibristTransport, make_librist_transport

__all__ = [
    "LibristError",
    "LibristLinkOptions",
    "LibristOptions",
    "LibristTransport",
    "LibristUnavailable",
    "make_librist_transport",
]
