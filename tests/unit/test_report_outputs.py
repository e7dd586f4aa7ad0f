"""The four files (summary.json, junit.xml, summary.md, self-contained report.html), terminal table, CLI."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from reports import generate
from reports.synthetic import healthy_load


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    run = healthy_load()
    run.add_requests("POST /api/orders", np.full(60, 900.0), status=201)
    run.set_probe("no_negative_wallet", 2, [{"wallet_id": "w1", "balance_cents": -500}])
    run.add_event("order_status_update_conflict", orderId="o1")
    run.add_requests("POST /api/shipping/assignments/{id}/accept", np.full(5, 20.0), status=409,
                     error_code="ASSIGNMENT_LOCKED")  # fmt: skip
    path = run.write(tmp_path_factory.mktemp("out") / "run")
    out = io.StringIO()
    code = generate(path, out=out)
    return path, code, out.getvalue()


def test_exit_and_terminal_table(failing_run: tuple[Path, int, str]) -> None:
    _, code, out = failing_run
    assert code == 1
    assert "check" in out and "measured" in out and "limit" in out and " n " in out and "status" in out
    assert re.search(r"core_p95\[POST /api/orders\]\s+900 ms \[.*\]\s+p\(95\) < 500 ms\s+\d+\s+FAIL", out)
    assert "verdict: FAIL (exit 1)" in out


def test_summary_json(failing_run: tuple[Path, int, str]) -> None:
    doc = json.loads((failing_run[0] / "summary.json").read_text())
    assert doc["schema"] == "loadgate.summary/1" and doc["exit_code"] == 1 and doc["verdict"] == "FAIL"
    check = next(c for c in doc["checks"] if c["name"] == "overdrafts")
    assert check["measured"] == 2 and check["limit"] == 0 and check["status"] == "fail"
    assert check["seed"].startswith("003")
    assert check["examples"][0]["balance_cents"] == -500
    p95 = next(c for c in doc["checks"] if c["name"] == "core_p95[POST /api/orders]")
    assert p95["ci"][0] <= p95["measured"] and p95["n"] == 260
    assert doc["lock_conflicts"]["responses_409"] == {"ASSIGNMENT_LOCKED": 5}
    assert doc["run"]["nominal_rates_per_hour"] == {"orders_created": 50.0}


def test_junit(failing_run: tuple[Path, int, str]) -> None:
    root = ET.parse(failing_run[0] / "junit.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None and int(suite.get("failures", "0")) >= 2
    failed = {c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None}
    assert "overdrafts (critical)" in failed and "core_p95[POST /api/orders] (critical)" in failed


def test_markdown(failing_run: tuple[Path, int, str]) -> None:
    md = (failing_run[0] / "summary.md").read_text()
    assert md.startswith("# loadgate: synthetic_load: FAIL") and "| overdrafts |" in md


def test_html_is_self_contained_with_charts(failing_run: tuple[Path, int, str]) -> None:
    html = (failing_run[0] / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "url(" not in html and "@import" not in html
    imgs = re.findall(r'<img class="chart" id="([^"]+)"[^>]*src="([^"]+)"', html)
    assert {i for i, _ in imgs} >= {"chart-endpoint-latency", "chart-latency-time", "chart-throughput-time",
                                    "chart-pool-time", "chart-conflicts"}  # fmt: skip
    assert all(src.startswith("data:image/png;base64,") for _, src in imgs)
    assert html.index('id="verdict"') < html.index('id="failed"') < html.index('id="endpoints"')
    assert "wallet_id" in html  # example violating rows are shown


def test_cli_standalone(tmp_path: Path) -> None:
    path = healthy_load().write(tmp_path / "run")
    proc = subprocess.run(
        [sys.executable, "-m", "reports", str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verdict: PASS" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "reports", str(tmp_path / "missing")], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert proc.returncode == 2
