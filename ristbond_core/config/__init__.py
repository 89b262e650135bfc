"""Typed configuration: pydantic models loaded from TOML, with migration and redaction."""

from ristbond_core.config.load import load_config, load_raw, resolve_backends
from ristbond_core.config.models import CURRENT_VERSION, RistbondConfig

__all__ = ["CURRENT_VERSION", "RistbondConfig", "load_config", "load_raw", "resolve_backends"]
