"""The run folder: where a run writes its evidence, and `run.json`, its record of itself.

`run.json` is rewritten atomically (write to a temporary file, rename) every time the run's
state changes, so a run killed at any instant leaves a readable record whose `status` says how
far it got.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Unpack

from loadgate_contract.files import RUN_JSON
from loadgate_contract.records import MachineInfo, ProcessEntry, RunRecordDoc

RUNS_DIR = Path("runs")


def utc_stamp(ts: float | None = None) -> str:
    """`20261123T101500Z`: sortable, filesystem-safe."""
    return datetime.fromtimestamp(ts if ts is not None else time.time(), UTC).strftime("%Y%m%dT%H%M%SZ")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_dir(name: str, *, parent: Path = RUNS_DIR) -> Path:
    """Create `parent/<name>-<UTC timestamp>/` (suffixed if that second is taken)."""
    parent.mkdir(parents=True, exist_ok=True)
    base = parent / f"{name}-{utc_stamp()}"
    path, n = base, 1
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def point_latest(run_dir: Path, *, parent: Path = RUNS_DIR) -> None:
    """Make `parent/latest` a relative symlink to `run_dir` (replaced atomically)."""
    link = parent / "latest"
    tmp = parent / f".latest-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(run_dir.resolve(), parent.resolve()))
    tmp.replace(link)


def write_json_atomic(path: Path, data: Mapping[str, object]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, check=False)
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def versions(postgres: str | None = None) -> dict[str, str | None]:
    return {
        "loadgate": _version("loadgate"),
        "git": git_commit(),
        "python": platform.python_version(),
        "locust": _version("locust"),
        "psycopg": _version("psycopg"),
        "postgresql": postgres,
    }


def machine() -> MachineInfo:
    mem_kb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "memory_mb": mem_kb // 1024 if mem_kb else None,
        "python_executable": sys.executable,
    }


@dataclass
class RunRecord:
    """What `run.json` holds; `save()` after every change of state."""

    path: Path
    data: RunRecordDoc = field(default_factory=lambda: RunRecordDoc())

    def save(self) -> None:
        write_json_atomic(self.path / RUN_JSON, self.data)

    def update(self, **fields: Unpack[RunRecordDoc]) -> None:
        self.data.update(fields)
        self.save()

    def add_error(self, message: str) -> None:
        self.data.setdefault("errors", []).append({"at": iso(time.time()), "message": message})
        self.save()

    def add_process(self, entry: ProcessEntry) -> None:
        self.data.setdefault("processes", []).append(entry)
        self.save()
