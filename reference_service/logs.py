"""Structured JSON log: one object per line, each line written with a single `os.write`.

The file is opened with O_APPEND, so lines from concurrent writers (and other processes appending
to the same file) never interleave, and nothing sits in a user-space buffer when the process dies.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from typing import Any

import orjson


def utc_now_iso() -> str:
    """ISO-8601 UTC with milliseconds, `Z` suffix."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonLogger:
    """Writes `{"timestamp","level","event",...}` lines to a file (or stderr)."""

    def __init__(self, path: str | None = None) -> None:
        self._owned = path is not None
        if path is None:
            self._fd = 2
        else:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def log(self, level: str, event: str, **fields: Any) -> None:
        record: dict[str, Any] = {"timestamp": utc_now_iso(), "level": level, "event": event}
        record.update(fields)
        line = orjson.dumps(record, default=str) + b"\n"
        # A full disk must not turn a served request into a failed one.
        with contextlib.suppress(OSError):
            os.write(self._fd, line)

    def info(self, event: str, **fields: Any) -> None:
        self.log("info", event, **fields)

    def warn(self, event: str, **fields: Any) -> None:
        self.log("warn", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.log("error", event, **fields)

    def close(self) -> None:
        if self._owned:
            os.close(self._fd)
            self._owned = False
