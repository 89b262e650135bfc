"""ristbond's ``udp`` transport: RIST simple-profile links over plain UDP sockets."""

from ristbond_transport_udp.options import UdpLinkOptions, UdpOptions
from ristbond_transport_udp.transport import UdpTransport, make_udp_transport

__all__ = ["UdpLinkOptions", "UdpOptions", "UdpTransport", "make_udp_transport"]
