"""Sans-IO protocol engines: fed ``(datagram, link_id, now)``, asked what to send."""
