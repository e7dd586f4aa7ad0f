"""Samples PostgreSQL's own view of the run's database: who waits for a lock, what runs long.

Needs only a URL (the harness need not run the server), so it works on any target with
`--database-url`. On its own connection, at `hz` (20 by default; at least 10):
- `pg_activity.csv`: one row per backend of the run's database that waits for a heavyweight lock
  (`pg_locks` not granted, with `waitstart`) or runs a statement older than `slow_ms` (50 ms).
  Raw observations: reports/pg_evidence.py groups them into waits and statements.
- `pg_stat.csv`: once a second, the database's `pg_stat_database` row (cumulative counters).
- `pg_statements.json`: when `pg_stat_statements` is installed in the database, its rows at start
  and end and their deltas per queryid.
All times are the server's clock (epoch seconds), so durations never mix two clocks. The sampler
leaves out its own backend, flushes each row as written (a killed run keeps its evidence), and
never ends the run: an error is noted (`errors`) and the next sample tries again.
Seeing other users' sessions needs the pg_monitor (or pg_read_all_stats) role (docs/pg-evidence.md).
"""

from __future__ import annotations

import csv
import json
import threading
import time
from pathlib import Path
from typing import Any, TypedDict, Unpack

import psycopg

from loadgate_contract.files import PG_ACTIVITY_COLUMNS as ACTIVITY_COLUMNS
from loadgate_contract.files import PG_SAMPLER_JSON, PG_STATEMENTS_JSON
from loadgate_contract.files import PG_STAT_COLUMNS as STAT_COLUMNS
from loadgate_contract.records import PgSamplerDoc, PgStatement, PgStatementsDoc


class _Counters(TypedDict):
    """One statement's pg_stat_statements counters at an instant."""

    query: str
    calls: int
    total_exec_time: float
    max_exec_time: float
    rows: int


class _MetaExtra(TypedDict, total=False):
    running: bool
    pg_stat_statements: bool


MIN_HZ = 10.0
QUERY_CHARS = 200

_ACTIVITY_SQL = f"""
SELECT extract(epoch FROM clock_timestamp()), a.pid, a.state, a.wait_event_type, a.wait_event,
       extract(epoch FROM a.query_start), extract(epoch FROM l.waitstart), l.locktype, l.mode,
       left(a.query, {QUERY_CHARS})
FROM pg_stat_activity a
LEFT JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
  AND (l.pid IS NOT NULL
       OR (a.state = 'active' AND a.query_start < clock_timestamp() - make_interval(secs => %s)))
"""
_STAT_SQL = f"""
SELECT extract(epoch FROM clock_timestamp()), {", ".join(STAT_COLUMNS[1:])}
FROM pg_stat_database WHERE datname = current_database()
"""
_STATEMENTS_SQL = """
SELECT queryid, left(query, 200), calls, total_exec_time, max_exec_time, rows
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def _fmt(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value) if not isinstance(value, int) else value


class PgSampler(threading.Thread):
    """A daemon thread sampling the database at `database_url`; `stop()` ends it."""

    def __init__(self, database_url: str, run_dir: Path, *, hz: float = 20.0, slow_ms: float = 50.0) -> None:
        super().__init__(name="pg-sampler", daemon=True)
        if hz < MIN_HZ:
            raise ValueError(f"the PostgreSQL sampler needs at least {MIN_HZ:g} Hz, got {hz:g}")
        self.url = database_url
        self.run_dir = run_dir
        self.interval_s = 1.0 / hz
        self.slow_s = slow_ms / 1000.0
        self.samples = 0
        self.errors: list[str] = []
        self.error_count = 0
        self._halt = threading.Event()
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._statements_start: dict[str, _Counters] | None = None

    def stop(self) -> None:
        """End sampling, take the closing pg_stat_statements snapshot, close the connection."""
        self._halt.set()
        if self.is_alive():
            self.join(timeout=10)

    def _note(self, what: str, exc: BaseException) -> None:
        self.error_count += 1
        if len(self.errors) < 10:  # a server down for a minute must not fill run.json
            self.errors.append(f"PostgreSQL sampler: {what}: {type(exc).__name__}: {exc}".strip())

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=3, application_name="loadgate-pg-sampler"
            )
            # a paused server must not hold the sampler longer than a few samples
            self._conn.execute("SET statement_timeout = '2s'")
        return self._conn

    def _query(self, what: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]] | None:
        try:
            return self._connection().execute(query, params).fetchall()
        except (psycopg.Error, OSError) as exc:
            self._note(what, exc)
            if self._conn is not None and (self._conn.broken or self._conn.closed):
                self._conn = None
            return None

    def statements(self) -> dict[str, _Counters] | None:
        """pg_stat_statements rows of the database by queryid; None when it is not installed."""
        rows = self._query(
            "pg_stat_statements", "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"
        )
        if not rows:
            return None
        rows = self._query("pg_stat_statements", _STATEMENTS_SQL)
        if rows is None:
            return None
        return {
            str(r[0]): {
                "query": r[1],
                "calls": int(r[2]),
                "total_exec_time": float(r[3]),
                "max_exec_time": float(r[4]),
                "rows": int(r[5]),
            }
            for r in rows
        }

    def _write_statements(self, end: dict[str, _Counters]) -> None:
        start = self._statements_start or {}
        deltas: list[PgStatement] = []
        for qid, e in end.items():
            s = start.get(qid, _Counters(query="", calls=0, total_exec_time=0.0, max_exec_time=0.0, rows=0))
            calls = e["calls"] - s["calls"]
            if calls <= 0:
                continue
            total = e["total_exec_time"] - s["total_exec_time"]
            deltas.append(
                {
                    "queryid": qid,
                    "query": e["query"],
                    "calls": calls,
                    "total_exec_time_ms": total,
                    "mean_exec_time_ms": total / calls,
                    "max_exec_time_ms": e["max_exec_time"],
                    "rows": e["rows"] - s["rows"],
                }
            )
        deltas.sort(key=lambda d: -d["total_exec_time_ms"])
        doc: PgStatementsDoc = {
            "note": "deltas between the run's start and end; max_exec_time_ms is the maximum since the "
            "statistics were last reset (pg_stat_statements keeps no per-interval maximum)",
            "statements": deltas,
        }
        (self.run_dir / PG_STATEMENTS_JSON).write_text(json.dumps(doc, indent=2) + "\n")

    def _write_meta(self, **extra: Unpack[_MetaExtra]) -> None:
        meta: PgSamplerDoc = {
            "hz": 1.0 / self.interval_s,
            "slow_ms": self.slow_s * 1000.0,
            "samples": self.samples,
            "errors": self.error_count,
            **extra,
        }
        (self.run_dir / PG_SAMPLER_JSON).write_text(json.dumps(meta) + "\n")

    def run(self) -> None:
        self._write_meta(running=True)
        activity_path, stat_path = self.run_dir / "pg_activity.csv", self.run_dir / "pg_stat.csv"
        new_a, new_s = not activity_path.exists(), not stat_path.exists()
        with open(activity_path, "a", newline="") as fa, open(stat_path, "a", newline="") as fs:
            activity, stat = csv.writer(fa), csv.writer(fs)
            if new_a:
                activity.writerow(ACTIVITY_COLUMNS)
            if new_s:
                stat.writerow(STAT_COLUMNS)
            fa.flush()
            fs.flush()
            self._statements_start = self.statements()
            next_at = next_stat = time.monotonic()
            while not self._halt.is_set():
                rows = self._query("pg_stat_activity/pg_locks", _ACTIVITY_SQL, (self.slow_s,))
                for row in rows or []:
                    activity.writerow([_fmt(v) for v in row])
                if rows:
                    fa.flush()
                if time.monotonic() >= next_stat:
                    next_stat += 1.0
                    for row in self._query("pg_stat_database", _STAT_SQL) or []:
                        stat.writerow([_fmt(v) for v in row])
                    fs.flush()
                self.samples += 1
                next_at += self.interval_s
                now = time.monotonic()
                if next_at < now:  # a slow sample (a paused server): skip ahead, never burst
                    next_at = now
                self._halt.wait(max(0.0, next_at - now))
            for row in self._query("pg_stat_database", _STAT_SQL) or []:
                stat.writerow([_fmt(v) for v in row])
        if self._statements_start is not None and (end := self.statements()) is not None:
            self._write_statements(end)
        self._write_meta(running=False, pg_stat_statements=self._statements_start is not None)
        if self._conn is not None:
            self._conn.close()
