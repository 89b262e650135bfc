"""``jsonl`` exporter: one JSON stats snapshot per line, to a file or stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field

from ristbond_core.config.redact import redact
from ristbond_core.errors import RistbondError


class JsonlOptions(BaseModel):
    """Options of the ``jsonl`` exporter (``[telemetry.options.jsonl]``)."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field("-", description="file to append to, or '-' for stdout")


class JsonlExporter:
    """Appends each snapshot as a compact JSON line, secrets redacted."""

    def __init__(self, options: JsonlOptions) -> None:
        self.path = options.path
        if options.path == "-":
            self._stream: IO[str] = sys.stdout
            return
        try:
            # The file stays open for the exporter's lifetime; close() releases it.
            self._stream = Path(options.path).open("a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise RistbondError(
                f"telemetry.options.jsonl.path: cannot open {options.path!r} for appending: "
                f"{exc.strerror} — choose a writable file or '-' for stdout"
            ) from None

    def export(self, snapshot: Mapping[str, Any]) -> None:
        """Write one line and flush, so a reader sees complete snapshots."""
        self._stream.write(json.dumps(redact(dict(snapshot)), separators=(",", ":")) + "\n")
        self._stream.flush()

    def close(self) -> None:
        """Close the file (stdout is left open)."""
        if self._stream is not sys.stdout:
            self._stream.close()


def make_jsonl(options: JsonlOptions) -> JsonlExporter:
    """Factory registered under the name ``jsonl``."""
    return JsonlExporter(options)
