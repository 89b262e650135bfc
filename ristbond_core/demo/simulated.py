"""The simulated demo: the same three links on a virtual clock, in seconds.

The real sender and receiver engines and the chosen scheduler plugin run over
simulated links (delay, jitter, loss, rate limits, an outage) on a virtual clock, so
this variant needs no sockets, finishes in seconds and is the same for the same seed.
"""

from __future__ import annotations

import random
import statistics
from typing import IO, Any

from ristbond_core.engine.receiver import ReceiverSettings
from ristbond_core.engine.sender import SenderSettings
from ristbond_core.events import LinkStateChanged
from ristbond_core.plugins import PluginHost
from ristbond_core.sim.link_model import LinkModel
from ristbond_core.sim.pair import PairSimulation

PAYLOAD_BYTES = 1316


def demo_links() -> dict[str, LinkModel]:
    """Three links as a field unit sees them: two LTE modems and a WiFi hotspot."""
    return {
        "lte-a": LinkModel(delay_ms=35, jitter_ms=10, loss=0.02, rate_bps=6e6, queue_packets=80),
        "lte-b": LinkModel(delay_ms=60, jitter_ms=25, loss=0.05, rate_bps=3e6, queue_packets=60),
        "wifi": LinkModel(delay_ms=15, jitter_ms=4, loss=0.01, rate_bps=8e6, queue_packets=100),
    }


def run_simulated(*, duration_s: float, bitrate_kbps: int, latency_ms: int, scheduler: str,
                  seed: int, out: IO[str]) -> int:
    """Run the simulation and print what a user wants to know about the bond."""
    host = PluginHost.discover()
    chosen = host.create_scheduler(scheduler, {}, random.Random(seed))
    links = demo_links()
    outage_from = duration_s * 0.4
    outage_to = outage_from + 3.0
    sim = PairSimulation(
        links,
        chosen,
        sender=SenderSettings(latency_ms=latency_ms),
        receiver=ReceiverSettings(latency_ms=latency_ms),
        seed=seed,
    )
    start = sim.now_ns

    def outage(sim: PairSimulation, now_ns: int) -> None:
        t = (now_ns - start) / 1e9
        links["lte-b"].up = not outage_from <= t < outage_to

    packets_per_s = bitrate_kbps * 1000 / (PAYLOAD_BYTES * 8)
    print(f"ristbond demo (simulated): {bitrate_kbps} kbit/s over 3 simulated links, "
          f"scheduler {scheduler!r}, latency {latency_ms} ms, "
          f"{duration_s:g} s (lte-b drops out at {outage_from:g}-{outage_to:g} s)", file=out)
    result = sim.run(duration_s, packets_per_s=packets_per_s, on_time=outage)
    print(summary(sim, result, start), file=out)
    return 0


def summary(sim: PairSimulation, result: Any, start_ns: int) -> str:
    """The end-of-run report: delivery, ARQ, latency, and each link's part."""
    received = sim.receiver.stats(sim.now_ns)
    sent = sim.sender.stats(sim.now_ns)
    flow = received["flow"]
    delays = [(o - i) / 1e6 for i, o in zip(result.input_times_ns, result.output_times_ns,
                                           strict=False)]
    delivered = len(result.output)
    intact = result.output == result.sent
    lines = [
        "",
        f"  delivered        {delivered} of {len(result.sent)} packets"
        f" ({'byte-identical, in order' if intact else 'with losses'})",
        f"  recovered by ARQ {flow['recovered']} packets"
        f" ({sent['flow']['retransmitted']} retransmissions)",
        f"  residual loss    {flow['lost']} packets"
        f" ({100.0 * flow['lost'] / max(1, len(result.sent)):.3f} %)",
    ]
    if delays:
        quantiles = statistics.quantiles(delays, n=100) if len(delays) > 1 else delays * 99
        lines.append(f"  output latency   p50 {quantiles[49]:.0f} ms, p95 {quantiles[94]:.0f} ms"
                     f" (input to output)")
    total = sum(link["sent_packets"] for link in sent["links"]) or 1
    lines.append("")
    lines.append(f"  {'link':8} {'share':>6} {'state':>9} {'rtt ms':>7} {'loss':>6} {'rtx':>5}")
    for link in sent["links"]:
        rtt = f"{link['rtt_ms']:.0f}" if link["rtt_ms"] is not None else "-"
        # Channel loss over the whole run: attempts the receiver NACKed on this link,
        # less the originals that arrived after their NACK.
        lost = link["attributed_losses"] - link.get("late_originals", 0)
        loss = max(0, lost) / max(1, link["sent_packets"])
        lines.append(
            f"  {link['id']:8} {100 * link['sent_packets'] / total:5.1f}% {link['state']:>9}"
            f" {rtt:>7} {100 * loss:5.1f}% {link['retransmitted']:>5}"
        )
    changes = [e for e in result.events if isinstance(e, LinkStateChanged)]
    if changes:
        lines.append("")
        lines.append("  lifecycle:")
        lines.extend(
            f"    {(e.at_ns - start_ns) / 1e9:6.2f} s  {e.link_id:6} {e.old.value} -> "
            f"{e.new.value} ({e.reason})"
            for e in changes
        )
    return "\n".join(lines)
