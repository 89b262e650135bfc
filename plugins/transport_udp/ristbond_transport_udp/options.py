"""The ``[transport.options]`` table of the ``udp`` transport and its per-link options."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MIB = 1024 * 1024


class UdpOptions(BaseModel):
    """Socket tuning for every link; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    rcvbuf_bytes: int | None = Field(
        4 * MIB, ge=4096, le=256 * MIB,
        description="SO_RCVBUF per socket (the kernel caps it at net.core.rmem_max); "
                    "a pass of the loop reads a wake interval's worth of datagrams at "
                    "once, so the default leaves room for bursts; null: system default",
    )
    sndbuf_bytes: int | None = Field(
        None, ge=4096, le=256 * MIB,
        description="SO_SNDBUF per socket (the kernel may cap it); default: system default",
    )
    dscp: int = Field(0, ge=0, le=63, description="DiffServ code point for every datagram")
    recv_batch: int = Field(
        256, ge=1, le=65_536,
        description="datagrams read per socket per wake-up at most (keeps the loop fair)",
    )
    gso: bool = Field(
        True,
        description="send each link's datagrams of one pass as one segmented send (Linux "
                    "UDP GSO); falls back to one send per datagram where the kernel refuses",
    )
    max_peers: int = Field(
        256, ge=1, le=65_536,
        description="receiver: remote RTCP addresses remembered at most (oldest forgotten)",
    )


class UdpLinkOptions(BaseModel):
    """Per-link options (``[[links]] options = {...}`` or URL keys); unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    dscp: int | None = Field(None, ge=0, le=63, description="DSCP for this link only")
