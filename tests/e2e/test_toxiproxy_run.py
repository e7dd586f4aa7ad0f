"""`harness run --toxiproxy URL`: db_latency through a Toxiproxy API the harness did not start.

The Toxiproxy here is loadgate's own API run standalone (`python -m harness.faults.toxiproxy_server`),
not Shopify's binary, which cannot be installed on this machine.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ROOT, read_json, run_chaos, scenario_file
from tests.e2e.test_harness_run import TINY_LOAD

pytestmark = pytest.mark.e2e

# 7 s of load at x600; 100 ms on every answer from PostgreSQL from 2 s to 4 s.
LATENCY = (
    TINY_LOAD
    + """
[[faults]]
kind = "db_latency"
start_s = 1200
duration_s = 1200
params = { latency_ms = 100 }
"""
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def toxiproxy() -> Iterator[str]:
    """loadgate's Toxiproxy API as a separate process, as a user's Toxiproxy server would be."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.faults.toxiproxy_server", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/version", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert proc.poll() is None, "the Toxiproxy API exited"
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_db_latency_runs_on_the_given_toxiproxy_and_its_proxy_is_removed(
    harness: Any, tmp_path: Path, toxiproxy: str
) -> None:
    run_dir, faults = run_chaos(harness, tmp_path, LATENCY, "--toxiproxy", toxiproxy)
    used = read_json(run_dir / "run.json")["fault_proxy"]
    assert (used["api"], used["kind"], used["in_process"]) == (toxiproxy, "loadgate", False)
    assert used["version"].startswith("loadgate-")
    assert [(f["kind"], f["outcome"]) for f in faults] == [("db_latency", "applied")]
    assert toxiproxy in json.dumps(faults[0]), "faults.jsonl says which Toxiproxy the toxic went to"
    assert httpx.get(f"{toxiproxy}/proxies").json() == {}, "the run deleted the proxy it created"


def test_a_toxiproxy_that_does_not_answer_stops_the_run_before_anything_starts(
    harness: Any, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    run = harness("run", str(scenario_file(tmp_path, LATENCY)), "--no-report", "--toxiproxy", url)
    code, out = run.finish(timeout_s=60)
    assert code == 2, out
    assert f"--toxiproxy {url}: no Toxiproxy answers there" in out
    assert run.run_dir() is None, "refused before a run folder or a database was made"


def test_a_toxiproxy_off_loopback_is_refused(harness: Any, tmp_path: Path) -> None:
    run = harness(
        "run",
        str(scenario_file(tmp_path, LATENCY)),
        "--no-report",
        env={"TOXIPROXY_URL": "http://10.1.2.3:8474"},
    )
    code, out = run.finish(timeout_s=60)
    assert code == 2, out
    assert "must be on loopback" in out
