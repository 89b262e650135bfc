"""Deterministic simulation: the real engines over simulated links on a virtual clock."""
