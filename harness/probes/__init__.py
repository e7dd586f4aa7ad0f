"""Database invariant probes: SQL files that return violating rows (zero rows pass), as dbt data tests.

Each `*.sql` file here is one query whose first line is `-- <description>`. A QA engineer adapts
them to another schema by editing SQL, not code. `run_probes` runs every one in a read-only
session and returns the `probes.json` document of docs/contracts.md; a probe whose SQL fails
gets `error` set, it never stops the others.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg.rows import dict_row

PROBE_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Probe:
    name: str
    description: str
    sql: str


def load_probes() -> list[Probe]:
    """Every probe shipped with the harness, in file-name order."""
    folder = resources.files("harness.probes")
    probes = []
    for name in sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql")):
        sql = (folder / name).read_text(encoding="utf-8")
        first = sql.splitlines()[0] if sql else ""
        description = first[2:].strip() if first.startswith("--") else name
        probes.append(Probe(name.removesuffix(".sql"), description, sql))
    return probes


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _run_one(conn: psycopg.Connection[dict[str, Any]], probe: Probe, example_limit: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "name": probe.name,
        "description": probe.description,
        "violations": 0,
        "examples": [],
        "error": None,
    }
    try:
        rows = conn.execute(probe.sql.encode()).fetchall()
    except psycopg.Error as exc:
        result["error"] = f"{type(exc).__name__}: {str(exc).strip()}"
        return result
    result["violations"] = len(rows)
    result["examples"] = [{k: _jsonable(v) for k, v in row.items()} for row in rows[:example_limit]]
    return result


def run_probes(database_url: str, *, example_limit: int = 5) -> dict[str, Any]:
    """Run every probe against `database_url` (read-only); the probes.json document."""
    ran_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    probes = load_probes()
    try:
        conn = psycopg.connect(database_url, autocommit=True, row_factory=dict_row, connect_timeout=10)
    except psycopg.Error as exc:
        error = f"cannot connect: {type(exc).__name__}: {str(exc).strip()}"
        return {
            "ran_at": ran_at,
            "probes": [
                {
                    "name": p.name,
                    "description": p.description,
                    "violations": 0,
                    "examples": [],
                    "error": error,
                }
                for p in probes
            ],
        }
    with conn:
        # Each probe runs as its own read-only transaction: a failing one cannot poison the next.
        conn.execute("SET default_transaction_read_only = on")
        conn.execute(f"SET statement_timeout = {int(PROBE_TIMEOUT_MS)}".encode())
        results = [_run_one(conn, p, example_limit) for p in probes]
    return {"ran_at": ran_at, "probes": results}
