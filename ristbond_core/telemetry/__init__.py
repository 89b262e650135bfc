"""Telemetry exporters shipped with the core."""
