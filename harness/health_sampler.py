"""Polls the service's `/health/live`, `/health/ready` and `/health/db` into `health.csv`.

Each endpoint is polled every `interval_s` by a thread of its own, each poll bounded by
`timeout_s`: a frozen service shows as status 0, and one hung endpoint never delays the others.
Rows are `ts,endpoint,status,latency_ms` (docs/contracts.md), `ts` the epoch second the poll was
sent, flushed one by one so a killed run keeps them.
"""

from __future__ import annotations

import csv
import ssl
import threading
import time
from pathlib import Path

import httpx

from loadgate_contract.files import HEALTH_COLUMNS as COLUMNS

ENDPOINTS = {"live": "/health/live", "ready": "/health/ready", "db": "/health/db"}


class HealthCsv:
    """`health.csv`, appended row by row from several threads; the header once, on a new file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        new = not path.exists() or path.stat().st_size == 0
        self._fh = open(path, "a", newline="")  # noqa: SIM115 - closed by close()
        self._csv = csv.writer(self._fh)
        self.rows = 0
        if new:
            self._csv.writerow(COLUMNS)
            self._fh.flush()

    def write(self, ts: float, endpoint: str, status: int, latency_ms: float) -> None:
        with self._lock:
            if self._fh.closed:
                return
            self._csv.writerow([f"{ts:.3f}", endpoint, status, f"{latency_ms:.2f}"])
            self._fh.flush()
            self.rows += 1

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()


class HealthSampler:
    """Three polling threads over one CSV; `start()`, then `stop()` ends them and closes the file."""

    def __init__(
        self,
        base_url: str,
        path: Path,
        *,
        interval_s: float = 0.25,
        timeout_s: float = 3.0,
        endpoints: dict[str, str] | None = None,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.path = path
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.endpoints = dict(endpoints or ENDPOINTS)
        self.verify = verify  # the target's TLS check (harness.target.Tls)
        self._halt = threading.Event()
        self._csv: HealthCsv | None = None
        self._threads: list[threading.Thread] = []

    @property
    def samples(self) -> int:
        return self._csv.rows if self._csv is not None else 0

    def start(self) -> None:
        self._csv = HealthCsv(self.path)
        for name, path in self.endpoints.items():
            thread = threading.Thread(
                target=self._poll, args=(name, self.base_url + path), name=f"health-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._halt.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout_s + self.interval_s + 1)
        if self._csv is not None:
            self._csv.close()

    def _poll(self, name: str, url: str) -> None:
        assert self._csv is not None
        with httpx.Client(timeout=self.timeout_s, verify=self.verify) as client:
            next_at = time.monotonic()
            while not self._halt.is_set():
                ts = time.time()
                started = time.perf_counter()
                try:
                    status = client.get(url).status_code
                except httpx.HTTPError:
                    status = 0
                self._csv.write(ts, name, status, (time.perf_counter() - started) * 1000)
                # On time when polls are quick; after a slow poll, the next starts at once (no burst).
                next_at = max(next_at + self.interval_s, time.monotonic())
                self._halt.wait(max(0.0, next_at - time.monotonic()))
