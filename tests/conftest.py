"""Suite-wide helpers: real-peer requirements and an isolated plugin environment."""

from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import HealthCheck, settings

# The machines that run the suite are shared and noisy: wall-clock limits inside
# property tests would make them flaky, so behaviour is checked, never speed.
settings.register_profile(
    "ristbond", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("ristbond")

REQUIRE_PEERS_ENV = "RISTBOND_REQUIRE_PEERS"


def require_program(program: str, apt_package: str) -> str:
    """Path of ``program``; skip with the package to install, or fail under CI's flag."""
    path = shutil.which(program)
    if path is not None:
        return path
    message = f"{program} is not installed (apt-get install {apt_package})"
    if os.environ.get(REQUIRE_PEERS_ENV) == "1":
        pytest.fail(f"{message}; {REQUIRE_PEERS_ENV}=1 makes this a failure")
    pytest.skip(message)
