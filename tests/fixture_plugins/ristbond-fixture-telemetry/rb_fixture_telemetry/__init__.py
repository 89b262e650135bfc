"""Exporters that fail: one raises on every snapshot, one hangs on the first."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from ristbond_core import hookimpl


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Explode:
    def __init__(self, options: NoOptions) -> None:
        self.calls = 0

    def export(self, snapshot: Mapping[str, Any]) -> None:
        self.calls += 1
        raise RuntimeError(f"exporter bug #{self.calls}")

    def close(self) -> None:
        return None


class Hang:
    def __init__(self, options: NoOptions) -> None:
        return None

    def export(self, snapshot: Mapping[str, Any]) -> None:
        time.sleep(30)  # a stuck collector; bounded so the test machine stays clean

    def close(self) -> None:
        return None


@hookimpl
def ristbond_register_telemetry_exporters(registry) -> None:  # type: ignore[no-untyped-def]
    registry.add("explode", Explode, options=NoOptions, description="raises (test fixture)")
    registry.add("hang", Hang, options=NoOptions, description="hangs (test fixture)")
