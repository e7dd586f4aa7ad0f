"""Samples the service's `/health/pool` once a second into `pool.csv`, flushed row by row."""

from __future__ import annotations

import csv
import ssl
import threading
import time
from pathlib import Path

import httpx

from loadgate_contract.files import POOL_COLUMNS as COLUMNS


class PoolSampler(threading.Thread):
    """A daemon thread; `stop()` ends it and closes the file."""

    def __init__(
        self,
        base_url: str,
        path: Path,
        *,
        interval_s: float = 1.0,
        timeout_s: float = 2.0,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        super().__init__(name="pool-sampler", daemon=True)
        self.url = base_url.rstrip("/") + "/health/pool"
        self.path = path
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.verify = verify  # the target's TLS check (harness.target.Tls)
        self._halt = threading.Event()
        self.samples = 0

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=self.timeout_s + self.interval_s + 1)

    def _sample(self, client: httpx.Client) -> list[object]:
        ts = time.time()
        started = time.perf_counter()
        try:
            resp = client.get(self.url)
            latency = (time.perf_counter() - started) * 1000
            body = resp.json()
            pool = body.get("pool", {})
            return [
                f"{ts:.3f}",
                body.get("status", resp.status_code),
                *(pool.get(k, "") for k in ("size", "active", "idle", "waiting", "max", "utilization")),
                f"{latency:.2f}",
            ]
        except (httpx.HTTPError, ValueError):
            latency = (time.perf_counter() - started) * 1000
            return [f"{ts:.3f}", "unreachable", "", "", "", "", "", "", f"{latency:.2f}"]

    def run(self) -> None:
        new = not self.path.exists()
        with (
            open(self.path, "a", newline="") as fh,
            httpx.Client(timeout=self.timeout_s, verify=self.verify) as client,
        ):
            writer = csv.writer(fh)
            if new:
                writer.writerow(COLUMNS)
            next_at = time.monotonic()
            while not self._halt.is_set():
                writer.writerow(self._sample(client))
                fh.flush()
                self.samples += 1
                next_at += self.interval_s
                self._halt.wait(max(0.0, next_at - time.monotonic()))
