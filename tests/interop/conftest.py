"""Fixtures for the interop suite: port pairs in 24000–24999 and a process group."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.peers import Group, Ports, process_group


@pytest.fixture(scope="session")
def ports() -> Ports:
    """One allocator for the whole run, so no two tests share a port pair."""
    return Ports()


@pytest.fixture
def group(tmp_path: Path) -> Iterator[Group]:
    """Processes started by one test, killed by PID at its end if still running."""
    with process_group(tmp_path) as started:
        yield started
