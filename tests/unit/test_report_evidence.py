"""Incomplete and missing evidence, insufficient samples, phases, coordinated omission, suites."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reports import generate
from reports.evidence import load_evidence
from reports.scope import AFTERMATH_S
from reports.synthetic import SyntheticRun, clean_reconcile, healthy_load, healthy_race


@pytest.fixture(autouse=True)
def _no_charts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reports.render_html.CHARTS_ENABLED", False)


def _gen(path: Path, **kw: Any) -> tuple[int, dict[str, Any], str]:
    out = io.StringIO()
    code = generate(path, out=out, **kw)
    summary = json.loads((path / "summary.json").read_text())
    return code, summary, out.getvalue()


def _checks(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in summary["checks"]}


def test_incomplete_run_with_truncated_line_is_judged_but_cannot_pass(tmp_path: Path) -> None:
    run = healthy_load()
    run.status = "incomplete"
    path = run.write(tmp_path / "run")
    with open(path / "requests.csv", "a") as fh:
        fh.write("1767226000.1,1767226000.1,POST /api/ord")  # a killed writer's partial line
    code, summary, out = _gen(path)
    assert code == 2
    assert summary["incomplete"] is True and "run incomplete" in summary["verdict"]
    assert any("partial last line" in n for n in summary["notes"])
    assert any("did not complete" in r for r in summary["reasons"])
    assert all(c["status"] == "pass" for c in summary["checks"])
    assert "did not complete" in out


def test_incomplete_run_with_a_failure_exits_1(tmp_path: Path) -> None:
    run = healthy_load()
    run.status = "running"  # the harness died before recording the end
    run.set_probe("no_negative_wallet", 1)
    code, summary, _ = _gen(run.write(tmp_path / "run"))
    assert code == 1 and _checks(summary)["overdrafts"]["status"] == "fail"


def test_missing_run_json_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert generate(tmp_path / "empty", out=io.StringIO()) == 2
    assert generate(tmp_path / "nowhere", out=io.StringIO()) == 2


def test_load_run_without_requests_is_exit_2_with_reason(tmp_path: Path) -> None:
    run = healthy_load()
    run.write_requests = False
    code, summary, out = _gen(run.write(tmp_path / "run"))
    assert code == 2 and "no requests.csv" in summary["reasons"][0] and "no requests.csv" in out


def test_race_run_without_requests_is_fine(tmp_path: Path) -> None:
    run = healthy_race()
    run.write_requests = False
    assert _gen(run.write(tmp_path / "run"))[0] == 0


def test_missing_optional_evidence_is_no_data_and_blocks_unless_not_required(tmp_path: Path) -> None:
    run = healthy_load()
    run.pool_rows = None
    code, summary, _ = _gen(run.write(tmp_path / "a"))
    checks = _checks(summary)
    assert checks["pool_utilization"]["status"] == "no_data" and code == 2
    run.thresholds = [{"name": n, "required": False} for n in ("pool_utilization", "pool_utilization_max")]
    assert _gen(run.write(tmp_path / "b"))[0] == 0


def test_errored_probe_is_no_data(tmp_path: Path) -> None:
    run = healthy_load()
    assert run.probes is not None
    run.probes[3]["error"] = "relation wallets does not exist"
    code, summary, _ = _gen(run.write(tmp_path / "run"))
    assert _checks(summary)["overdrafts"]["status"] == "no_data" and code == 2


def test_corrupt_middle_line_is_exit_2(tmp_path: Path) -> None:
    run = healthy_race()
    path = run.write(tmp_path / "run")
    lines = (path / "races.jsonl").read_text().splitlines()
    lines[2] = "{not json"
    (path / "races.jsonl").write_text("\n".join(lines) + "\n")
    assert generate(path, out=io.StringIO()) == 2


def test_insufficient_data(tmp_path: Path) -> None:
    run = SyntheticRun(kind="load")
    run.add_requests("POST /api/orders", np.full(5, 100.0), status=201)
    run.add_pool(active=2)
    run.add_event("lock_wait", duration=3.0)
    code, summary, _ = _gen(run.write(tmp_path / "a"))
    c = _checks(summary)["core_p95[POST /api/orders]"]
    assert c["status"] == "insufficient_data" and c["n"] == 5 and c["measured"] == 100.0
    assert code == 0
    assert _gen(run.write(tmp_path / "b"), fail_on_insufficient=True)[0] == 1


def test_few_samples_that_already_breach_fail(tmp_path: Path) -> None:
    run = healthy_load()
    run.add_requests("GET /api/admin/agents/leaderboard", np.full(5, 2000.0))
    code, summary, _ = _gen(run.write(tmp_path / "run"))
    c = _checks(summary)["core_p95[GET /api/admin/agents/leaderboard]"]
    assert c["status"] == "fail" and "fails even on 5" in c["detail"] and code == 1


def test_warmup_excluded_by_default_and_phase_scoping(tmp_path: Path) -> None:
    run = healthy_load()
    run.add_requests("POST /api/orders", np.full(100, 3000.0), status=201, phase="warmup")
    assert _gen(run.write(tmp_path / "a"))[0] == 0
    run.thresholds = [{"name": "core_p95", "phase": "*"}]
    assert _gen(run.write(tmp_path / "b"))[0] == 1
    run.thresholds = [{"name": "core_p95", "phase": "warmup", "severity": "warning"}]
    code, summary, _ = _gen(run.write(tmp_path / "c"))
    assert code == 0 and _checks(summary)["core_p95[POST /api/orders]"]["status"] == "fail"


def test_fault_windows_are_phases(tmp_path: Path) -> None:
    run = healthy_load()
    start, end = run.t0 + 300, run.t0 + 330
    run.faults = [{"kind": "kill_db", "target": "postgres", "start": start, "end": end, "params": {},
                   "outcome": "reverted", "detail": ""}]  # fmt: skip
    run.reconcile = clean_reconcile()  # a run with faults is judged on its reconciliation too
    run.add_requests("GET /api/orders/{id}", np.full(60, 30.0), status=503, error_code="DATABASE_UNAVAILABLE",
                     window=(start, end))  # fmt: skip
    code, summary, _ = _gen(run.write(tmp_path / "a"))
    assert code == 0, summary["reasons"]  # the fault window is excluded by default
    run.thresholds = [{"name": "fault_errors", "metric": "http_req_failed", "expr": "rate < 0.2",
                       "phase": "during_fault:kill_db"},
                      {"name": "recovered", "metric": "http_req_failed", "expr": "rate < 0.01",
                       "phase": "after_fault"}]  # fmt: skip
    code, summary, _ = _gen(run.write(tmp_path / "b"))
    checks = _checks(summary)
    assert checks["fault_errors"]["status"] == "fail" and checks["fault_errors"]["measured"] > 0.2
    assert checks["recovered"]["status"] == "pass"
    assert code == 1


def test_latency_from_intended_send_shows_coordinated_omission(tmp_path: Path) -> None:
    run = healthy_load()
    run.add_requests(
        "POST /api/orders", np.full(100, 50.0), status=201, lag_ms=800.0
    )  # the generator stalled
    code, summary, _ = _gen(run.write(tmp_path / "run"))
    row = next(e for e in summary["endpoints"] if e["name"] == "POST /api/orders")
    assert row["user"]["p95"] == pytest.approx(850.0, abs=0.5)
    assert row["service"]["p95"] < 200
    assert _checks(summary)["core_p95[POST /api/orders]"]["status"] == "fail" and code == 1
    run.thresholds = [{"name": "core_p95", "metric": "http_req_service_time"}]
    assert _gen(run.write(tmp_path / "b"))[0] == 0


def test_endpoint_percentiles_are_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    lat = rng.lognormal(4, 1, size=997).round(3)
    run = SyntheticRun(kind="load")
    run.add_requests("POST /api/orders", lat, status=201)
    ev = load_evidence(run.write(tmp_path / "run"))
    from reports.metrics import endpoint_stats

    row = next(r for r in endpoint_stats(ev, ("warmup",)) if r["name"] == "POST /api/orders")
    s = sorted(ev.requests["latency_ms"].tolist()) if ev.requests is not None else []
    for q, key in ((50, "p50"), (90, "p90"), (95, "p95"), (99, "p99")):
        assert row["user"][key] == s[-(-q * len(s) // 100) - 1]
    assert row["user"]["max"] == s[-1] and row["count"] == 997


def _suite(tmp_path: Path, children: dict[str, SyntheticRun], status: str = "complete") -> Path:
    root = tmp_path / "release-20260101T000000Z"
    for name, run in children.items():
        run.write(root / name)
    run_json = {"id": root.name, "scenario": "release", "kind": "suite", "status": status,
                "scenarios": [n.split("-", 1)[1] for n in children], "children": list(children)}  # fmt: skip
    (root / "run.json").write_text(json.dumps(run_json))
    return root


def test_suite_worst_child_wins(tmp_path: Path) -> None:
    bad = healthy_race()
    assert bad.races is not None
    bad.races[0]["participants"][1]["status"] = 200
    root = _suite(tmp_path, {"01-steady_50": healthy_load(), "02-race_accept": bad})
    out = io.StringIO()
    assert generate(root, out=out) == 1
    for f in ("report.html", "summary.json", "junit.xml", "summary.md"):
        assert (root / f).exists() and (root / "01-steady_50" / f).exists()
    doc = json.loads((root / "summary.json").read_text())
    assert [c["exit_code"] for c in doc["children"]] == [0, 1]
    assert "race_one_winner" in doc["children"][1]["failed_checks"]
    assert "02-race_accept" in (root / "report.html").read_text()


def test_suite_all_pass_and_incomplete_suite(tmp_path: Path) -> None:
    root = _suite(tmp_path / "a", {"01-steady_50": healthy_load(), "02-race_accept": healthy_race()})
    assert generate(root, out=io.StringIO()) == 0
    root = _suite(tmp_path / "b", {"01-steady_50": healthy_load()}, status="incomplete")
    assert generate(root, out=io.StringIO()) == 2


def _load_with_a_fault(start_s: float, end_s: float) -> tuple[SyntheticRun, float, float]:
    """A healthy load run with one applied db_latency fault from `start_s` to `end_s` (run time)."""
    run = healthy_load()
    start, end = run.t0 + start_s, run.t0 + end_s
    run.faults = [{"kind": "db_latency", "target": None, "start": start, "end": end, "params": {},
                   "outcome": "applied", "detail": ""}]  # fmt: skip
    run.reconcile = clean_reconcile()
    return run, start, end


def test_a_lock_wait_that_began_in_a_fault_or_its_aftermath_belongs_to_it(tmp_path: Path) -> None:
    """Logged when it ends, 0.2 s after the fault; placed where it began, as requests are."""
    run, _, end = _load_with_a_fault(300, 330)
    run.pg_log = None  # the service log's scoping (PostgreSQL's events share it: _lasting_in_scope)
    before = _checks(_gen(run.write(tmp_path / "before"))[1])["lock_wait_p99"]["n"]
    run.add_event("lock_wait", t=end + 0.2, duration=400.0)
    code, summary, _ = _gen(run.write(tmp_path / "a"))
    assert _checks(summary)["lock_wait_p99"]["n"] == before and code == 0, summary["reasons"]
    for i in range(5):  # began in the 5 s after it, when the queued requests arrive at once
        run.add_event("lock_wait", t=end + 0.5 + i, duration=400.0)
    code, summary, _ = _gen(run.write(tmp_path / "b"))
    assert _checks(summary)["lock_wait_p99"]["n"] == before and code == 0, summary["reasons"]
    for i in range(5):  # began once the aftermath was over: steady state again, judged
        run.add_event("lock_wait", t=end + AFTERMATH_S + 1.0 + i, duration=400.0)
    code, summary, _ = _gen(run.write(tmp_path / "c"))
    assert _checks(summary)["lock_wait_p99"]["status"] == "fail" and code == 1


def test_a_slow_query_in_flight_when_the_fault_began_belongs_to_it(tmp_path: Path) -> None:
    """Began before the fault, ended in it: the fault's, not the steady state's."""
    run, start, _ = _load_with_a_fault(300, 306)
    run.pg_log = None  # the service log's scoping (PostgreSQL's events share it: _lasting_in_scope)
    before = _checks(_gen(run.write(tmp_path / "before"))[1])["slow_query_ratio"]["measured"]
    for i in range(40):  # every connection's query, stuck 0.5 s after it began until the timeout
        run.add_event("slow_query_detected", t=start + 4.5, duration=5000.0, query=f"q{i}")
    code, summary, _ = _gen(run.write(tmp_path / "a"))
    assert _checks(summary)["slow_query_ratio"]["measured"] == before and code == 0, summary["reasons"]
    requests = _checks(summary)["slow_query_ratio"]["n"]
    for i in range(requests // 10):  # slow queries with no fault to blame, 1 per 10 requests: judged
        run.add_event("slow_query_detected", t=start - 60 + i * 0.1, duration=400.0, query=f"s{i}")
    code, summary, _ = _gen(run.write(tmp_path / "b"))
    assert _checks(summary)["slow_query_ratio"]["status"] == "fail" and code == 1
