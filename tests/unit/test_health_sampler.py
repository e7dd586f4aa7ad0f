"""health.csv: the writer's format, and polls that stay on time when one endpoint hangs."""

from __future__ import annotations

import csv
import itertools
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.health_sampler import HealthCsv, HealthSampler
from loadgate_contract.files import HEALTH_COLUMNS as COLUMNS


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_writer_puts_the_header_once_and_flushes_each_row(tmp_path: Path) -> None:
    path = tmp_path / "health.csv"
    first = HealthCsv(path)
    first.write(1700000000.1234, "live", 200, 1.234)
    assert path.read_text().splitlines() == [",".join(COLUMNS), "1700000000.123,live,200,1.23"]
    first.close()
    again = HealthCsv(path)  # appending to an existing file: no second header
    again.write(1700000001.0, "db", 0, 3000.0)
    again.close()
    assert [r["status"] for r in _rows(path)] == ["200", "0"]


def test_writer_keeps_rows_whole_under_concurrent_writers(tmp_path: Path) -> None:
    path = tmp_path / "health.csv"
    writer = HealthCsv(path)

    def burst(n: int) -> None:
        for _ in range(200):
            writer.write(time.time(), f"e{n}", 200, 1.0)

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    rows = _rows(path)
    assert len(rows) == 800 and all(r["status"] == "200" and r["latency_ms"] == "1.00" for r in rows)


class _Handler(BaseHTTPRequestHandler):
    hang = threading.Event()

    def do_GET(self) -> None:
        if self.path == "/health/db":
            self.hang.wait(5)  # a frozen database: never answers within the poll's timeout
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    _Handler.hang.set()
    httpd.shutdown()
    httpd.server_close()


def test_a_hung_endpoint_is_status_0_and_the_others_stay_on_time(server: str, tmp_path: Path) -> None:
    """A hung /health/db must not hold the other endpoints' polls. Were they serialised behind it,
    live would poll once per 1 s timeout; the bounds leave a busy machine several times the slack."""
    path = tmp_path / "health.csv"
    sampler = HealthSampler(server, path, interval_s=0.1, timeout_s=1.0)
    sampler.start()
    time.sleep(2.5)
    sampler.stop()
    rows = _rows(path)
    live = [float(r["ts"]) for r in rows if r["endpoint"] == "live"]
    db = [r for r in rows if r["endpoint"] == "db"]
    assert all(r["status"] == "200" for r in rows if r["endpoint"] in ("live", "ready"))
    assert len(live) >= 3 * len(db) + 3, "live kept polling while db hung"
    assert max(b - a for a, b in itertools.pairwise(live)) < 0.9, "no live poll waited out a db timeout"
    assert db and all(r["status"] == "0" for r in db)
    assert all(float(r["latency_ms"]) >= 900 for r in db), "a hung poll ends at its own timeout"
    assert 1 <= len(db) <= 3
