"""Database invariant probes: SQL files that return violating rows (zero rows pass), as dbt data tests.

Each `*.sql` file is one query whose first line is `-- <description>`; a later leading comment line
`-- metrics: overdrafts, ledger_violations` names the threshold metrics it serves besides the ones
its file name matches (docs/probes.md). The files shipped here fit the reference schema and are the
default set; `--probes DIR` (or a scenario's `probes = "DIR"`) runs a team's own folder instead,
and `--probes-off NAME` switches a probe off (recorded, not run, not judged). `run_probes` runs
each probe in a read-only session and returns the `probes.json` document of docs/contracts.md; a
probe whose SQL fails gets `error` set, it never stops the others.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from harness.errors import InvalidInput
from loadgate_contract.records import ProbeResult, ProbesConfig, ProbesDoc

PROBE_TIMEOUT_MS = 30_000
SHIPPED_DIR = Path(__file__).resolve().parent
# The threshold metrics a probe's rows can feed (reports/catalog.py, evidence probes.json).
PROBE_METRICS = ("probe_violations", "ledger_violations", "overdrafts", "duplicate_orders")
METRICS_HEADER = "-- metrics:"


@dataclass(frozen=True)
class Probe:
    name: str
    description: str
    sql: str
    metrics: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProbeSet:
    """Which probes a run uses: a folder (None: the shipped ones) and who switched which off."""

    directory: Path | None = None
    off: Mapping[str, str] = field(default_factory=dict)  # probe name -> who switched it off

    @property
    def folder(self) -> Path:
        """The folder the probes are read from."""
        return self.directory if self.directory is not None else SHIPPED_DIR

    def describe(self) -> ProbesConfig:
        """The `probes` entry of run.json."""
        return {
            "directory": str(self.folder),
            "shipped": self.directory is None,
            "off": dict(self.off),
        }


SHIPPED = ProbeSet()


def parse_probe(name: str, sql: str) -> Probe:
    """One probe from its file text: description from line 1, metrics from a `-- metrics:` line."""
    lines = sql.splitlines()
    first = lines[0] if lines else ""
    description = first[2:].strip() if first.startswith("--") else name
    metrics: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped.startswith("--"):
            break  # only the leading comment block is header
        if stripped.lower().startswith(METRICS_HEADER):
            metrics += [m.strip() for m in stripped[len(METRICS_HEADER) :].split(",") if m.strip()]
    unknown = [m for m in metrics if m not in PROBE_METRICS]
    if unknown:
        from harness.scenario_parse import did_you_mean

        hints = "".join(did_you_mean(m, PROBE_METRICS) for m in unknown)
        raise InvalidInput(
            f"probe {name}: `-- metrics:` names unknown metric(s) {', '.join(unknown)}{hints}; "
            f"a probe can serve {', '.join(PROBE_METRICS)}"
        )
    return Probe(name, description, sql, tuple(metrics))


def load_probes(directory: Path | None = None) -> list[Probe]:
    """Every probe of `directory` (default: the shipped set), in file-name order."""
    folder = directory if directory is not None else SHIPPED_DIR
    return [parse_probe(path.stem, path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.sql"))]


def check_probe_dir(directory: Path, where: str) -> None:
    """A probe folder must exist and hold at least one .sql file (checked before anything starts)."""
    if not directory.is_dir():
        raise InvalidInput(f"{where}: probe folder {directory} does not exist")
    if not any(directory.glob("*.sql")):
        raise InvalidInput(
            f"{where}: probe folder {directory} holds no .sql file (a probe is an SQL file "
            "returning the violating rows; see docs/probes.md)"
        )


def probe_set(directory: Path | None, off: Sequence[tuple[str, str]], *, where: str = "--probes") -> ProbeSet:
    """Validate a folder and the names switched off in it (unknown names: an error with a hint)."""
    if directory is not None:
        check_probe_dir(directory, where)
    names = tuple(p.name for p in load_probes(directory))
    errors = []
    for name, who in off:
        if name not in names:
            from harness.scenario_parse import did_you_mean

            errors.append(
                f"{who}: no probe named {name!r} in {directory or SHIPPED_DIR}"
                f"{did_you_mean(name, names)}; probes there: {', '.join(names)}"
            )
    if errors:
        raise InvalidInput("\n".join(errors))
    return ProbeSet(directory, {name: who for name, who in off})


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


def _entry(probe: Probe, *, error: str | None = None, off: str | None = None) -> ProbeResult:
    return {
        "name": probe.name,
        "description": probe.description,
        "metrics": list(probe.metrics),
        "violations": 0,
        "examples": [],
        "error": error,
        "off": off,
    }


def _run_one(conn: psycopg.Connection[dict[str, Any]], probe: Probe, example_limit: int) -> ProbeResult:
    result = _entry(probe)
    try:
        rows = conn.execute(probe.sql.encode()).fetchall()
    except psycopg.Error as exc:
        # The first line is the database's message; the rest (LINE 3: ... ^) is a caret for a terminal.
        message = (str(exc).strip().splitlines() or [""])[0]
        result["error"] = f"{type(exc).__name__}: {message}"
        return result
    result["violations"] = len(rows)
    result["examples"] = [{k: _jsonable(v) for k, v in row.items()} for row in rows[:example_limit]]
    return result


def run_probes(database_url: str, *, example_limit: int = 5, probes: ProbeSet | None = None) -> ProbesDoc:
    """Run the probe set (default: shipped) against `database_url`, read-only; the probes.json document."""
    chosen = probes or ProbeSet()
    ran_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    loaded = load_probes(chosen.directory)

    def document(results: list[ProbeResult]) -> ProbesDoc:
        return {
            "ran_at": ran_at,
            "directory": str(chosen.folder),
            "shipped": chosen.directory is None,
            "probes": results,
        }

    switched = [_entry(p, off=chosen.off[p.name]) for p in loaded if p.name in chosen.off]
    active = [p for p in loaded if p.name not in chosen.off]
    try:
        conn = psycopg.connect(database_url, autocommit=True, row_factory=dict_row, connect_timeout=10)
    except psycopg.Error as exc:
        error = f"cannot connect: {type(exc).__name__}: {str(exc).strip()}"
        return document([_entry(p, error=error) for p in active] + switched)
    with conn:
        # Each probe runs as its own read-only transaction: a failing one cannot poison the next.
        conn.execute("SET default_transaction_read_only = on")
        conn.execute(f"SET statement_timeout = {int(PROBE_TIMEOUT_MS)}".encode())
        results = [_run_one(conn, p, example_limit) for p in active]
    return document(results + switched)


def preflight(database_url: str, probes: ProbeSet) -> list[str]:
    """Each active probe planned (EXPLAIN: nothing runs) on a database whose schema already exists.

    For a target's database, before the load: a probe written for another schema fails here in
    milliseconds instead of after the run. Returns `probe NAME: <the database's error>` lines.
    """
    active = [p for p in load_probes(probes.directory) if p.name not in probes.off]
    try:
        conn = psycopg.connect(database_url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        why = f"{type(exc).__name__}: {str(exc).strip()}"
        raise InvalidInput(f"--database-url: cannot connect: {why}") from exc
    refused = []
    with conn:
        conn.execute("SET default_transaction_read_only = on")
        for probe in active:
            try:
                conn.execute(b"EXPLAIN " + probe.sql.strip().rstrip(";").encode())
            except psycopg.Error as exc:
                message = (str(exc).strip().splitlines() or [""])[0]
                refused.append(f"probe {probe.name}: {type(exc).__name__}: {message}")
    return refused
