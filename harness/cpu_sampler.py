"""Samples CPU and memory of each process of a run once a second into `cpu.csv` (docs/contracts.md).

One row per process group and sample: the service (its process and any children, e.g. uvicorn
workers), each Locust process, PostgreSQL (the postmaster and every backend, summed), and the
machine as a whole. CPU is from `cpu_times()` deltas between samples, in percent of one core (200
is both cores of a 2-core machine), so a backend born and gone between two samples is missed but a
backend born since the last sample counts whole. The machine row is the total of all cores in the
same unit, so `machine - (service + locust* + postgres)` is everyone else on the machine; the
`iowait` row is the machine's time waiting for the disk (idle, but with I/O outstanding), same unit.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import psutil

from loadgate_contract.files import CPU_COLUMNS as COLUMNS

MACHINE = "machine"
IOWAIT = "iowait"

Groups = Mapping[str, list[int]]


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def cpu_pct(previous: Mapping[int, float], current: Mapping[int, float], interval_s: float) -> float:
    """Percent of one core used by a group over `interval_s`, from per-pid CPU seconds before and now.

    A pid seen before counts its increase; a new pid counts all its CPU time (born since the last
    sample); a pid gone since counts nothing (its last interval is lost).
    """
    if interval_s <= 0:
        return 0.0
    used = sum(max(0.0, cpu - previous.get(pid, 0.0)) for pid, cpu in current.items())
    return 100.0 * used / interval_s


class CpuSampler(threading.Thread):
    """A daemon thread; `groups()` names the root pids of each group at each sample."""

    def __init__(self, groups: Callable[[], Groups], path: Path, *, interval_s: float = 1.0) -> None:
        super().__init__(name="cpu-sampler", daemon=True)
        self.groups = groups
        self.path = path
        self.interval_s = interval_s
        self._halt = threading.Event()
        self._cpu: dict[str, dict[int, float]] = {}
        self._machine: tuple[float, float] | None = None
        self._at: float | None = None
        self.samples = 0

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=self.interval_s + 5)

    def _measure(self) -> tuple[dict[str, dict[int, float]], dict[str, float], tuple[float, float]]:
        cpu: dict[str, dict[int, float]] = {}
        rss: dict[str, float] = {}
        for name, roots in self.groups().items():
            times: dict[int, float] = {}
            memory = 0.0
            for root in roots:
                for proc in _tree(root):
                    try:
                        with proc.oneshot():
                            t = proc.cpu_times()
                            times[proc.pid] = t.user + t.system
                            memory += proc.memory_info().rss
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        continue
            cpu[name], rss[name] = times, memory / 2**20
        total = psutil.cpu_times()
        iowait = float(getattr(total, "iowait", 0.0))
        busy = sum(total) - total.idle - iowait
        return cpu, rss, (busy, iowait)

    def sample(self) -> list[list[object]]:
        """Rows for this instant (none on the first call: it only sets the baseline)."""
        now = time.monotonic()
        cpu, rss, machine = self._measure()
        rows: list[list[object]] = []
        if self._at is not None and self._machine is not None:
            interval = now - self._at
            ts = f"{time.time():.3f}"
            for name, times in cpu.items():
                pct = cpu_pct(self._cpu.get(name, {}), times, interval)
                rows.append([ts, name, len(times), f"{pct:.1f}", f"{rss[name]:.1f}"])
            for name, now_s, before_s in zip((MACHINE, IOWAIT), machine, self._machine, strict=True):
                pct = 100.0 * max(0.0, now_s - before_s) / interval if interval > 0 else 0.0
                rows.append([ts, name, "", f"{pct:.1f}", ""])
        self._cpu, self._machine, self._at = cpu, machine, now
        return rows

    def run(self) -> None:
        new = not self.path.exists()
        with open(self.path, "a", newline="") as fh:
            writer = csv.writer(fh)
            if new:
                writer.writerow(COLUMNS)
                fh.flush()
            next_at = time.monotonic()
            while not self._halt.is_set():
                try:
                    rows = self.sample()
                except Exception:  # a sampler must never take the run down
                    rows = []
                writer.writerows(rows)
                fh.flush()
                self.samples += bool(rows)
                next_at += self.interval_s
                self._halt.wait(max(0.0, next_at - time.monotonic()))
