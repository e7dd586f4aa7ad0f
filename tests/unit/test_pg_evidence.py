"""PostgreSQL's evidence in the report: the log and sampling derivations, the source order, the population."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from reports import generate
from reports import pg_evidence as pge
from reports.evidence import load_evidence
from reports.synthetic import SyntheticRun, healthy_load

T = 1_767_226_000.0


def _judge(run: SyntheticRun, path: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    code = generate(run.write(path), out=io.StringIO())
    summary = json.loads((path / "summary.json").read_text())
    return code, {c["name"]: c for c in summary["checks"]}


def _few_writes() -> SyntheticRun:
    run = SyntheticRun(kind="load", warmup_s=0.0, steady_s=60.0)
    run.add_requests("POST /api/orders", np.full(40, 30.0), status=201)
    return run


def test_a_lock_wait_of_80_ms_among_few_writes_breaks_lock_wait_p99(tmp_path: Path) -> None:
    run = _few_writes()
    code, checks = _judge(run, tmp_path / "quiet")
    assert checks["lock_wait_p99"]["status"] in ("pass", "insufficient_data")
    run.add_pg_lock_wait(80.0)
    code, checks = _judge(run, tmp_path / "wait")
    check = checks["lock_wait_p99"]
    assert check["status"] == "fail" and code == 1  # 1 of 40 writes waited 80 ms: over 1 %
    assert check["measured"] is not None and float(str(check["measured"])) > 50
    assert check["source"].startswith("PostgreSQL log")
    assert "1 waits >= 10 ms among 40 writes" in str(check["detail"])


def test_the_same_wait_among_many_writes_holds(tmp_path: Path) -> None:
    run = _few_writes()
    run.add_requests("PATCH /api/orders/{id}", np.full(400, 30.0))
    run.add_pg_lock_wait(80.0)
    _, checks = _judge(run, tmp_path / "run")
    assert checks["lock_wait_p99"]["status"] == "pass"  # 1 of 440 writes: under 1 %


def test_source_priority_log_then_sampling_then_service(tmp_path: Path) -> None:
    run = _few_writes()
    run.add_event("lock_wait", duration=5.0, resource="wallet")  # the service log: harmless
    _, checks = _judge(run, tmp_path / "service")
    assert checks["lock_wait_p99"]["source"] == "service log (lock_wait events)"
    qs = T - 1.0
    run.pg_activity_rows = [  # pid 7 seen waiting from waitstart T for 0.2 s, 3 samples
        [
            f"{T + k * 0.1:.3f}",
            7,
            "active",
            "Lock",
            "transactionid",
            qs,
            T,
            "transactionid",
            "ShareLock",
            "UPDATE",
        ]
        for k in range(3)
    ]
    run.t0 = T - 30  # the synthetic steady phase covers T
    _, checks = _judge(run, tmp_path / "sampled")
    assert checks["lock_wait_p99"]["source"].startswith("PostgreSQL sampling (pg_locks every 50 ms)")
    run.add_pg_lock_wait(12.0, T)
    _, checks = _judge(run, tmp_path / "logged")
    assert checks["lock_wait_p99"]["source"].startswith("PostgreSQL log")


def test_sampled_waits_and_statements_are_grouped_lower_bounds(tmp_path: Path) -> None:
    run = healthy_load()
    run.pg_log = None
    run.pg_activity_rows = [
        [
            f"{T + k * 0.05:.3f}",
            7,
            "active",
            "Lock",
            "tuple",
            T - 0.5,
            T - 0.1,
            "tuple",
            "ExclusiveLock",
            "UPDATE a",
        ]
        for k in range(5)
    ] + [
        [f"{T + k * 0.05:.3f}", 8, "active", "", "", T - 0.3, "", "", "", "SELECT pg_sleep(1)"]
        for k in range(3)
    ]
    ev = load_evidence(run.write(tmp_path / "run"))
    assert ev.pg_activity is not None
    waits = pge.sampled_lock_waits(ev.pg_activity)
    assert (
        len(waits) == 1 and abs(float(waits["duration_ms"].iloc[0]) - 300.0) < 1.0
    )  # last seen T+0.2 - (T-0.1)
    statements = pge.sampled_statements(ev.pg_activity)
    by_pid = dict(zip(statements["pid"], statements["duration_ms"], strict=True))
    assert abs(by_pid[7] - 700.0) < 1.0 and abs(by_pid[8] - 400.0) < 1.0


def test_a_wait_that_never_acquired_ends_at_the_backends_error(tmp_path: Path) -> None:
    run = healthy_load()
    run.pg_log = []
    run.add_pg_log("process 9 still waiting for ShareLock on transaction 3 after 10.000 ms", T + 0.010, pid=9)
    run.add_pg_log(
        "canceling statement due to lock timeout", T + 0.060, pid=9, severity="ERROR", state_code="55P03"
    )
    run.add_pg_log(
        "process 10 detected deadlock while waiting for ShareLock on transaction 4 after 10.136 ms", T, pid=10
    )
    run.add_pg_log("deadlock detected", T, pid=10, severity="ERROR", state_code="40P01")
    ev = load_evidence(run.write(tmp_path / "run"))
    assert ev.pg_log is not None
    waits = pge.log_lock_waits(ev.pg_log).set_index("pid")
    assert waits.loc[9, "outcome"] == "55P03" and abs(float(str(waits.at[9, "duration_ms"])) - 60.0) < 0.5
    assert (
        waits.loc[10, "outcome"] == "deadlock"
        and abs(float(str(waits.at[10, "duration_ms"])) - 10.136) < 0.01
    )
    assert len(pge.log_errors(ev.pg_log, pge.DEADLOCK)) == 1


def test_slow_statements_deadlocks_and_rollbacks_name_their_source(tmp_path: Path) -> None:
    run = healthy_load()
    for i in range(12):
        run.add_pg_slow(700.0, run.t0 + 300 + i)
    run.add_pg_log("deadlock detected", run.t0 + 200, severity="ERROR", state_code="40P01")
    code, checks = _judge(run, tmp_path / "run")
    assert checks["slow_queries_500"]["status"] == "fail" and checks["slow_queries_500"]["source"].startswith(
        "PostgreSQL log"
    )
    assert checks["db_deadlocks"]["status"] == "fail" and checks["db_deadlocks"]["measured"] == 1
    assert checks["db_rollbacks"]["source"].startswith("pg_stat_database.xact_rollback")
    assert code == 0  # warnings only
    md = (tmp_path / "run" / "summary.md").read_text()
    assert "PostgreSQL log (log_min_duration_statement = 100 ms)" in md
    assert "evidence: PostgreSQL log" in (tmp_path / "run" / "junit.xml").read_text().replace(
        "[evidence", "evidence"
    )
    assert "evidence: PostgreSQL log" in (tmp_path / "run" / "report.html").read_text()


def test_deadlocks_from_pg_stat_when_there_is_no_log(tmp_path: Path) -> None:
    run = healthy_load()
    run.pg_log = None
    run.set_pg_stat(deadlocks=2)
    _, checks = _judge(run, tmp_path / "run")
    assert checks["db_deadlocks"]["measured"] == 2 and checks["db_deadlocks"]["source"].startswith(
        "pg_stat_database"
    )
    assert checks["db_serialization_failures"]["status"] == "no_data"  # only the log shows 40001


def test_a_log_copy_without_the_start_marker_is_no_evidence(tmp_path: Path) -> None:
    """The tail saw nothing of the run's database: silence must not pass as "no lock wait"."""
    run = _few_writes()
    run.add_pg_lock_wait(80.0)
    folder = run.write(tmp_path / "run")
    log = folder / "postgres.jsonl"
    log.write_text("".join(line + "\n" for line in log.read_text().splitlines()[1:]))  # marker gone
    evidence = load_evidence(folder)
    assert evidence.pg_log is None
    assert any("lacks the harness's start marker" in note for note in evidence.notes)
