"""PostgreSQL's own evidence on a real embedded server: a lock wait, a slow statement, a deadlock and a
serialization failure reach postgres.jsonl and the sampler's files, and the report's derivations find them."""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from harness.db.backends import EmbeddedBackend, fresh_database
from harness.pg_evidence import PgEvidence
from harness.processes import wait_until
from reports import pg_evidence as pge
from reports.evidence import load_pg_csv, load_pg_log

HOLD_S = 0.3


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBackend]:
    b = EmbeddedBackend(data_dir=Path(tmp_path_factory.mktemp("pgev")) / "data", fsync=False)
    b.start()
    try:
        yield b
    finally:
        b.stop()


def _lock_wait(url: str) -> None:
    """A holds the row until B has waited for it HOLD_S (timed from B's wait, seen in pg_stat_activity,
    so a late start of B on a busy machine cannot shorten the wait)."""
    with psycopg.connect(url) as a, psycopg.connect(url) as b, psycopg.connect(url, autocommit=True) as watch:
        a.execute("UPDATE t SET v = v + 1 WHERE id = 1")
        waiter_pid = b.info.backend_pid

        def wait_for_a() -> None:
            b.execute("UPDATE t SET v = v + 1 WHERE id = 1")
            b.commit()

        waiter = threading.Thread(target=wait_for_a)
        waiter.start()
        query = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'"

        def b_waits() -> bool:
            row = watch.execute(query, (waiter_pid,)).fetchone()
            return row is not None and row[0] == 1

        assert wait_until(b_waits, timeout_s=10)
        time.sleep(HOLD_S)
        a.commit()
        waiter.join(timeout=10)


def _deadlock(url: str) -> int:
    """A and B lock rows 1 and 2 in opposite orders; PostgreSQL kills one: return how many died."""
    died: list[str] = []
    with psycopg.connect(url) as a, psycopg.connect(url) as b:
        a.execute("UPDATE t SET v = 0 WHERE id = 1")
        b.execute("UPDATE t SET v = 0 WHERE id = 2")

        def second() -> None:
            try:
                b.execute("UPDATE t SET v = 0 WHERE id = 1")
                b.commit()
            except psycopg.errors.DeadlockDetected:
                died.append("b")
                b.rollback()

        th = threading.Thread(target=second)
        th.start()
        time.sleep(0.1)
        try:
            a.execute("UPDATE t SET v = 0 WHERE id = 2")
            a.commit()
        except psycopg.errors.DeadlockDetected:
            died.append("a")
            a.rollback()
        th.join(timeout=10)
    return len(died)


def _serialization_failure(url: str) -> None:
    with psycopg.connect(url) as a, psycopg.connect(url) as b:
        for conn in (a, b):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute("SELECT * FROM t").fetchall()
        a.execute("UPDATE t SET v = 5 WHERE id = 1")
        a.commit()
        with pytest.raises(psycopg.errors.SerializationFailure):
            b.execute("UPDATE t SET v = 6 WHERE id = 1")


def test_lock_wait_slow_statement_deadlock_and_serialization_failure_are_captured(
    backend: EmbeddedBackend, tmp_path: Path
) -> None:
    url = fresh_database(backend)
    other = fresh_database(backend)  # another scenario's database on the same server: not ours
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
        conn.execute("INSERT INTO t VALUES (1, 0), (2, 0)")
    notes: list[str] = []
    pg = PgEvidence(tmp_path, url, backend, note=notes.append)
    pg.start()
    try:
        _lock_wait(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_sleep(%s)", (HOLD_S,))
        with psycopg.connect(other, autocommit=True) as conn:
            conn.execute("SELECT pg_sleep(0.15)")
        assert _deadlock(url) == 1
        _serialization_failure(url)
        time.sleep(1.2)  # one more pg_stat_database sample after the deadlock
    finally:
        pg.stop()
    assert notes == []

    log = load_pg_log(tmp_path / "postgres.jsonl", [])
    assert log is not None, "the run's start marker reached the copy"
    markers = log.loc[log["message"].str.startswith("loadgate: PostgreSQL log tail"), "message"].tolist()
    assert markers == ["loadgate: PostgreSQL log tail start", "loadgate: PostgreSQL log tail end"]
    dbnames = {json.loads(line)["dbname"] for line in (tmp_path / "postgres.jsonl").read_text().splitlines()}
    assert dbnames == {psycopg.conninfo.conninfo_to_dict(url)["dbname"]}
    waits = pge.log_lock_waits(log)
    acquired = waits[waits["outcome"] == "acquired"]
    assert (acquired["duration_ms"] >= HOLD_S * 1000 * 0.8).any(), waits
    assert (waits["outcome"] == "deadlock").sum() == 1
    slow = pge.log_slow_statements(log)
    assert slow["statement"].str.contains("pg_sleep").any() and (slow["duration_ms"] >= 250).any()
    assert len(pge.log_errors(log, pge.DEADLOCK)) == 1
    assert len(pge.log_errors(log, pge.SERIALIZATION)) == 1

    activity = load_pg_csv(tmp_path / "pg_activity.csv", [], ("ts", "pid", "query_start", "waitstart"))
    sampled = pge.sampled_lock_waits(activity)
    assert (sampled["duration_ms"] >= HOLD_S * 1000 * 0.5).any(), sampled
    statements = pge.sampled_statements(activity)
    assert statements["statement"].str.contains("pg_sleep").any()
    assert (
        not activity["query"].str.contains("pg_stat_activity").any()
    )  # the sampler's own backend is excused
    stat = load_pg_csv(tmp_path / "pg_stat.csv", [], ("ts", "deadlocks", "xact_rollback"))
    assert pge.stat_delta(stat, "deadlocks") == 1
    assert pge.stat_delta(stat, "xact_rollback") >= 2  # the deadlock victim and the serialization failure
    with open(tmp_path / "pg_stat.csv") as fh:
        assert next(csv.reader(fh))[:4] == ["ts", "xact_commit", "xact_rollback", "deadlocks"]
    meta = json.loads((tmp_path / "pg_sampler.json").read_text())
    assert meta["hz"] == 20.0 and meta["samples"] > 20 and meta["running"] is False


def test_sampler_survives_a_database_it_cannot_reach(tmp_path: Path) -> None:
    """A wrong URL is a note, never an exception: the run goes on without this evidence."""
    notes: list[str] = []
    pg = PgEvidence(
        tmp_path, "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", None, note=notes.append
    )
    pg.start()
    time.sleep(0.5)
    pg.stop()
    assert notes and all("PostgreSQL sampler" in n for n in notes)
    assert (tmp_path / "pg_activity.csv").read_text().startswith("ts,pid,")
