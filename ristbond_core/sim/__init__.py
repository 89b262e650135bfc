"""Deterministic simulation: the real engines over simulated links on a virtual clock.

``link_model`` (one path's impairments), ``pair`` (sender and receiver joined by
paths, with engine faults), ``scenario`` (TOML scenarios compiled to a timeline),
``runner`` (one run, sampled), ``metrics``, ``suite`` (all scenarios, thresholds) and
``plot`` (optional, matplotlib). Docs: docs/scenarios.md.
"""
