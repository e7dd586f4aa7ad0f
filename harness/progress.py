"""Live progress of a run, read from the evidence as it is written (never from Locust's memory).

Reads the new rows of `requests.csv` and `races.jsonl` since the last look, and prints one line:
elapsed and remaining time, phase, requests per second, P95 over the last window, errors, races.
On a terminal the line is rewritten in place; elsewhere (CI logs) a line is printed every 10 s.
"""

from __future__ import annotations

import csv
import io
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

WINDOW_S = 10.0


@dataclass
class _Tail:
    path: Path
    offset: int = 0
    header: list[str] | None = None
    partial: str = ""

    def new_lines(self) -> list[str]:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
                self.offset = fh.tell()
        except FileNotFoundError:
            return []
        text = self.partial + chunk
        lines = text.split("\n")
        self.partial = lines.pop()
        return [line for line in lines if line]


@dataclass
class Progress:
    """Call `tick()` every second or so while the run goes; `final()` once at its end."""

    run_dir: Path
    duration_s: float
    phases: list[tuple[str, float, float]] = field(default_factory=list)
    out: TextIO = sys.stderr
    started: float = field(default_factory=time.time)
    faults: list[str] = field(default_factory=list)
    target: str = ""  # the base URL under load, named on every line
    total: int = 0
    errors: int = 0
    races: int = 0
    _recent: deque[tuple[float, float, bool]] = field(default_factory=deque)
    _req: _Tail | None = None
    _race: _Tail | None = None
    _last_print: float = 0.0

    def __post_init__(self) -> None:
        self._req = _Tail(self.run_dir / "requests.csv")
        self._race = _Tail(self.run_dir / "races.jsonl")
        self.tty = self.out.isatty()

    def _read(self) -> None:
        assert self._req is not None and self._race is not None
        lines = self._req.new_lines()
        if lines and self._req.header is None:
            self._req.header = next(csv.reader([lines[0]]))
            lines = lines[1:]
        header = self._req.header or []
        for row in csv.reader(io.StringIO("\n".join(lines))):
            if len(row) != len(header):
                continue
            rec = dict(zip(header, row, strict=True))
            try:
                ts = float(rec.get("ts") or 0)
                latency = float(rec.get("latency_ms") or 0)
                intended = rec.get("ts_intended")
                if intended:
                    latency += max(0.0, (ts - float(intended)) * 1000)
                status = int(rec.get("status") or 0)
            except ValueError:
                continue
            failed = status == 0 or status >= 500
            self.total += 1
            self.errors += failed
            self._recent.append((ts, latency, failed))
        self.races += len(self._race.new_lines())
        horizon = time.time() - WINDOW_S
        while self._recent and self._recent[0][0] < horizon:
            self._recent.popleft()

    def phase(self, elapsed: float) -> str:
        for name, start, length in self.phases:
            if start <= elapsed < start + length:
                return name
        return "-"

    def line(self) -> str:
        elapsed = time.time() - self.started
        window = [r for r in self._recent]
        rps = len(window) / WINDOW_S
        lat = sorted(r[1] for r in window)
        p95 = f"{lat[max(0, -(-len(lat) * 95 // 100) - 1)]:.0f}ms" if lat else "-"
        parts = [
            f"[{elapsed:5.0f}s/{self.duration_s:.0f}s]",
            f"phase={self.phase(elapsed)}",
            f"req={self.total}",
            f"rps={rps:.1f}",
            f"p95(10s)={p95}",
            f"errors={self.errors}",
        ]
        if self.target:
            parts.insert(1, f"target={self.target}")
        if self.races:
            parts.append(f"race_trials={self.races}")
        if self.faults:
            parts.append(f"faults={','.join(self.faults)}")
        return "  ".join(parts)

    def tick(self) -> None:
        self._read()
        now = time.time()
        if self.tty:
            self.out.write("\r\033[K" + self.line())
            self.out.flush()
        elif now - self._last_print >= 10:
            self.out.write(self.line() + "\n")
            self.out.flush()
            self._last_print = now

    def final(self) -> None:
        self._read()
        self.out.write(("\r\033[K" if self.tty else "") + self.line() + "\n")
        self.out.flush()
