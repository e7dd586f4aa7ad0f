"""The chaos checks (issue 5): each holds on clean chaos evidence and fails on evidence that breaks it.

Each case changes one thing in `healthy_chaos` (a load run with one fault, health.csv and
reconcile.json written as docs/contracts.md says). A run without faults gets none of these checks.
"""

from __future__ import annotations

import dataclasses
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from reports import generate
from reports.chaos import DB_UNAVAILABLE
from reports.evidence import load_evidence
from reports.judge import judge
from reports.synthetic import SyntheticRun, clean_reconcile, healthy_chaos, healthy_load
from reports.thresholds import load_thresholds

Case = Callable[[], SyntheticRun]


def _fault(r: SyntheticRun) -> tuple[float, float]:
    assert r.faults is not None
    start, end = r.faults[0]["start"], r.faults[0]["end"]
    assert start is not None and end is not None
    return start, end


def _reconciled(section: str, **counts: Any) -> Case:
    def case() -> SyntheticRun:
        r = healthy_chaos()
        assert r.reconcile is not None
        example = {
            "name": "POST /api/orders",
            "created_id": "o-1",
            "ts": r.t0 + 305,
            "idempotency_key": "k-1",
        }
        cast(dict[str, dict[str, Any]], r.reconcile)[section].update(counts, examples=[example])
        return r

    return case


def _slow_503_during_pause() -> SyntheticRun:
    r = healthy_chaos("db_pause")
    start, _ = _fault(r)
    r.add_requests("POST /api/payments", [9000.0], status=503, error_code="DATABASE_UNAVAILABLE",
                   window=(start + 5, start + 6))  # fmt: skip
    return r


def _db_says_healthy_during_restart() -> SyntheticRun:
    r = healthy_chaos("db_restart")
    start, _ = _fault(r)
    r.set_health("db", 200, 3.0, (start + 5, start + 6))
    return r


def _live_silent_during_fault() -> SyntheticRun:
    r = healthy_chaos("db_crash")
    start, _ = _fault(r)
    r.set_health("live", 0, 3000.0, (start + 5, start + 5.25))
    return r


CASES: dict[str, list[Case]] = {
    "acknowledged_writes_lost": [_reconciled("acknowledged", missing=1)],
    "indeterminate_applied_twice": [_reconciled("indeterminate", once=1, more_than_once=1)],
    "duplicate_effects": [_reconciled("idempotent_retries", duplicate_effects=1)],
    "fail_fast_requests": [_slow_503_during_pause],
    "fail_fast_health": [_db_says_healthy_during_restart, _live_silent_during_fault],
    "recovery_first_order": [
        lambda: healthy_chaos(recover_after_s=None),
        lambda: healthy_chaos(recover_after_s=15.0),
    ],
}
BREAKERS = [(name, i) for name, cases in CASES.items() for i in range(len(cases))]


def _judge(run: SyntheticRun, path: Path) -> tuple[int, dict[str, Any]]:
    code = generate(run.write(path), out=io.StringIO())
    return code, json.loads((path / "summary.json").read_text())


def _checks(doc: dict[str, Any], threshold: str) -> list[dict[str, Any]]:
    return [c for c in doc["checks"] if c["threshold"] == threshold]


@pytest.mark.parametrize("kind", [*DB_UNAVAILABLE, "db_latency"])
def test_every_chaos_check_holds_on_clean_evidence(kind: str, tmp_path: Path) -> None:
    code, doc = _judge(healthy_chaos(kind), tmp_path / "run")
    assert code == 0, doc["reasons"]
    for name in CASES:
        mine = _checks(doc, name)
        if kind == "db_latency" and name.startswith("fail_fast"):
            assert mine == []  # the database stays up: fail fast does not apply
        else:
            assert mine and all(c["status"] == "pass" for c in mine), mine


@pytest.mark.parametrize(("name", "i"), BREAKERS)
def test_chaos_check_fails_on_evidence_that_breaks_it(name: str, i: int, tmp_path: Path) -> None:
    code, doc = _judge(CASES[name][i](), tmp_path / "run")
    failed = [c for c in _checks(doc, name) if c["status"] == "fail"]
    assert failed, _checks(doc, name)
    assert code == 1
    assert any(name in r for r in doc["reasons"])


def test_a_slow_503_is_named_with_its_latency(tmp_path: Path) -> None:
    _, doc = _judge(_slow_503_during_pause(), tmp_path / "run")
    (check,) = _checks(doc, "fail_fast_requests")
    assert check["name"] == "fail_fast_requests[db_pause#1]" and check["measured"] == 9000.0
    assert check["examples"][0]["latency_ms"] == 9000.0 and check["examples"][0]["status"] == 503


def test_health_answers_that_break_fail_fast_are_shown(tmp_path: Path) -> None:
    _, doc = _judge(_db_says_healthy_during_restart(), tmp_path / "a")
    (check,) = _checks(doc, "fail_fast_health")
    assert check["measured"] == 4  # four polls a second
    assert {e["why"] for e in check["examples"]} == {"answered 2xx while the database was down"}
    _, doc = _judge(_live_silent_during_fault(), tmp_path / "b")
    (check,) = _checks(doc, "fail_fast_health")
    assert check["measured"] == 1 and check["examples"][0]["endpoint"] == "live"
    assert check["examples"][0]["why"] == "no answer"


def test_recovery_times(tmp_path: Path) -> None:
    _, doc = _judge(healthy_chaos(recover_after_s=15.0), tmp_path / "slow")
    (check,) = _checks(doc, "recovery_first_order")
    assert 15.0 <= check["measured"] < 15.5
    fault = doc["chaos"]["faults"][0]
    assert fault["recovery"]["first_order_s"] == check["measured"] and fault["pool_reconnected"] is True
    _, doc = _judge(healthy_chaos(recover_after_s=None), tmp_path / "never")
    (check,) = _checks(doc, "recovery_first_order")
    assert check["measured"] is None and check["detail"].startswith("never recovered")
    assert doc["chaos"]["faults"][0]["pool_reconnected"] is False


def test_unknown_outcomes_are_reported_not_failed(tmp_path: Path) -> None:
    run = healthy_chaos()
    assert run.reconcile is not None
    run.reconcile["indeterminate"]["unknown"] = 3
    code, doc = _judge(run, tmp_path / "run")
    (check,) = _checks(doc, "indeterminate_applied_twice")
    assert check["status"] == "pass" and "unknown 3" in check["detail"] and code == 0
    assert doc["chaos"]["reconcile"]["indeterminate"]["unknown"] == 3


@pytest.mark.parametrize(("missing", "blocked"), [("reconcile", "acknowledged_writes_lost"),
                                                  ("health_rows", "fail_fast_health")])  # fmt: skip
def test_a_chaos_run_without_its_evidence_cannot_be_judged(
    missing: str, blocked: str, tmp_path: Path
) -> None:
    run = healthy_chaos()
    setattr(run, missing, None)
    code, doc = _judge(run, tmp_path / "run")
    assert code == 2
    assert all(c["status"] == "no_data" for c in _checks(doc, blocked))
    assert any(blocked in r for r in doc["reasons"])


def test_a_fault_never_logged_or_never_injected_cannot_be_judged(tmp_path: Path) -> None:
    run = healthy_load()  # a fault planned, never logged: the run's own checks hold
    run.reconcile = clean_reconcile()
    path = run.write(tmp_path / "unlogged")
    plan = json.loads((path / "plan.json").read_text())
    (path / "plan.json").write_text(json.dumps({**plan, "faults": [{"kind": "db_restart"}]}))
    assert generate(path, out=io.StringIO()) == 2
    doc = json.loads((path / "summary.json").read_text())
    assert _checks(doc, "recovery_first_order")[0]["status"] == "no_data"
    run = healthy_chaos()
    assert run.faults is not None
    run.faults[0]["outcome"], run.faults[0]["detail"] = "failed", "apply failed: RuntimeError: pg_ctl"
    code, doc = _judge(run, tmp_path / "failed")
    assert code == 2 and "was not injected" in _checks(doc, "fail_fast_health")[0]["detail"]


def test_evidence_that_ends_right_after_the_fault_is_too_short_to_tell(tmp_path: Path) -> None:
    run = healthy_chaos(start_s=650.0, duration_s=4.0, recover_after_s=None)
    _, doc = _judge(run, tmp_path / "run")
    (check,) = _checks(doc, "recovery_first_order")
    assert check["status"] == "insufficient_data" and "too soon" in check["detail"]


def test_p95_recovery_is_reported_and_judged_when_a_scenario_enables_it(tmp_path: Path) -> None:
    run = healthy_chaos()
    _, end = _fault(run)
    run.add_requests("GET /api/orders/{id}", np.full(80, 2000.0), window=(end, end + 20.0))
    _, doc = _judge(run, tmp_path / "off")
    assert _checks(doc, "recovery_p95") == [] and doc["chaos"]["faults"][0]["recovery"]["p95_s"] == 20.0
    run.thresholds = [{"name": "recovery_p95", "enabled": True, "expr": "max < 10"}]
    _, doc = _judge(run, tmp_path / "on")
    (check,) = _checks(doc, "recovery_p95")
    assert check["status"] == "fail" and check["measured"] == 20.0


def test_fail_fast_bound_is_the_request_thresholds_limit(tmp_path: Path) -> None:
    run = _slow_503_during_pause()
    run.thresholds = [{"name": "fail_fast_requests", "expr": "max < 10000"}]
    code, doc = _judge(run, tmp_path / "run")
    assert code == 0, doc["reasons"]
    assert doc["chaos"]["fail_fast_bound_ms"] == 10000.0


def test_a_run_without_faults_is_judged_exactly_as_before(tmp_path: Path) -> None:
    run = healthy_load()
    run.reconcile = clean_reconcile()
    run.add_health("db", 200, 3.0, run.window("steady"))
    ev = load_evidence(run.write(tmp_path / "run"))
    ts = load_thresholds()
    before = dataclasses.replace(ts, thresholds=[t for t in ts.thresholds if t.name not in CASES])
    assert len(before.thresholds) == 22  # the non-chaos thresholds (19 + the three db_* counts)
    now, then = judge(ev, ts), judge(ev, before)
    assert now.checks == then.checks and now.exit_code == then.exit_code == 0
    assert generate(tmp_path / "run", out=io.StringIO()) == 0
    doc = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "chaos" not in doc and "## Faults" not in (tmp_path / "run" / "summary.md").read_text()


def test_every_renderer_has_the_fault_section(tmp_path: Path) -> None:
    run = healthy_chaos(recover_after_s=15.0)
    code, doc = _judge(run, tmp_path / "run")
    assert code == 1
    fault = doc["chaos"]["faults"][0]
    assert fault["label"] == "db_restart#1" and fault["start_s"] == 300.0 and fault["end_s"] == 320.0
    assert fault["requests"]["count"] > 0 and fault["requests"]["status_503"] == fault["requests"]["count"]
    assert fault["health"]["endpoints"]["db"]["violations"] == 0
    assert doc["chaos"]["reconcile"]["acknowledged"] == {"checked": 400, "missing": 0, "examples": []}
    md = (tmp_path / "run" / "summary.md").read_text()
    assert "## Faults" in md and "| db_restart#1 |" in md and "400 checked, 0 missing" in md
    html = (tmp_path / "run" / "report.html").read_text()
    assert 'id="faults"' in html and 'id="fault-db_restart#1"' in html and "/health/ready" in html
    suite = ET.parse(tmp_path / "run" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["recovery_first_order[db_restart#1] (critical)"].find("failure") is not None
    assert cases["fail_fast_health[db_restart#1] (critical)"].find("failure") is None
    assert "acknowledged_writes_lost (critical)" in cases


def test_health_csv_cut_by_a_killed_writer_keeps_its_whole_lines(tmp_path: Path) -> None:
    path = healthy_chaos().write(tmp_path / "run")
    with open(path / "health.csv", "a") as fh:
        fh.write("9999999999.0,db,50")
    ev = load_evidence(path)
    assert ev.health is not None and ev.health["ts"].max() < 9999999999.0
    assert any("health.csv" in n and "partial" in n for n in ev.notes)


def test_charts_shade_the_fault_and_show_health(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reports.render_html.CHARTS_ENABLED", True)
    path = healthy_chaos().write(tmp_path / "run")
    generate(path, out=io.StringIO())
    html = (path / "report.html").read_text()
    for chart in ("latency-time", "throughput-time", "pool-time", "health-time"):
        assert f'id="chart-{chart}"' in html


@pytest.fixture(autouse=True)
def _no_charts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Judging is what these tests check; charts are tested in test_report_outputs."""
    monkeypatch.setattr("reports.render_html.CHARTS_ENABLED", False)


def test_the_suite_page_shows_each_scenarios_key_chart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reports.render_html.CHARTS_ENABLED", True)
    root = tmp_path / "release-20260101T000000Z"
    healthy_chaos().write(root / "01-chaos_db_restart")
    run_json = {"id": root.name, "scenario": "release", "kind": "suite", "status": "complete",
                "scenarios": ["chaos_db_restart"], "children": ["01-chaos_db_restart"]}  # fmt: skip
    (root / "run.json").write_text(json.dumps(run_json))
    generate(root, out=io.StringIO())
    html = (root / "report.html").read_text()
    for chart in ("latency-time", "health-time"):
        assert f'id="chart-01-chaos_db_restart-{chart}" alt="01-chaos_db_restart: ' in html
    assert 'id="chart-01-chaos_db_restart-pool-time"' not in html, "the rest stays on the child's page"
