"""The demo: a bonded stream over three cellular-like links, live or simulated."""
