"""Load a run folder (docs/contracts.md) into memory: the only module that reads evidence files.

Rules:
- `run.json` is required; without it nothing can be judged (`InvalidEvidence`, exit 2).
- `requests.csv` is required for `load` and `capacity` runs; other files are optional and, when
  absent, are *no evidence* (`None`), which the judge reports as `no_data`, never as a pass.
- Writers append and flush whole lines, so a file that does not end with a newline was cut by a
  killed run: its last partial line is dropped and a note says so. A malformed line elsewhere is
  an error (the evidence is corrupt, not incomplete).
- `requests.csv` is read with pyarrow's CSV reader and explicit types (1 M rows in about 0.3 s);
  string columns become categoricals, which makes the per-name group-bys cheap.
- `service.jsonl` holds one `http_request_completed` line per request; those lines are skipped by
  a byte test before JSON parsing, since the report uses requests.csv for request latency.
- PostgreSQL's own evidence (docs/pg-evidence.md): `postgres.jsonl` (its log, on a server the
  harness owns), `pg_activity.csv`, `pg_stat.csv`, `pg_sampler.json`, `pg_statements.json` (the
  sampler, with a URL only); reports/pg_evidence.py derives events from them.
- `health.csv` and `reconcile.json` are a chaos run's evidence (reports/chaos.py); an unreadable
  `reconcile.json`, like `probes.json`, is no evidence with a note, never a pass.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import pandas as pd

from loadgate_contract import files
from loadgate_contract.files import HEALTH_COLUMNS, PG_STAT_COLUMNS, POOL_COLUMNS, REQUEST_COLUMNS
from loadgate_contract.plan import PlanDoc
from loadgate_contract.records import (
    FaultRecord,
    PgSamplerDoc,
    PgStatementsDoc,
    ProbesDoc,
    RaceTrial,
    ReconcileDoc,
    RunRecordDoc,
    RunStatus,
)
from reports.errors import InvalidEvidence

__all__ = ["HEALTH_COLUMNS", "REQUEST_COLUMNS"]  # re-exported: tests and the synthetic writer use them

_REQUEST_DTYPES: dict[str, str] = {
    "ts": "float64",
    "ts_intended": "float64",
    "status": "float64",  # read as float: a row cut mid-field must not abort the whole load
    "latency_ms": "float64",
    "bytes": "float64",
}
_CATEGORY_COLUMNS = ["name", "error_code", "phase", "worker", "flow"]
_LOAD_KINDS = {"load", "capacity"}
_SKIP_EVENT = b'"http_request_completed"'


@dataclass(frozen=True)
class Window:
    """A named time window in epoch seconds (a run phase, or before/during/after a fault)."""

    name: str
    start: float
    end: float


@dataclass
class Evidence:
    """Everything a run folder holds, parsed; `None` means the file is absent (no evidence)."""

    run_dir: Path
    run: RunRecordDoc
    plan: PlanDoc | None
    requests: pd.DataFrame | None
    service: pd.DataFrame | None
    pool: pd.DataFrame | None
    races: list[RaceTrial] | None
    faults: list[FaultRecord] | None
    probes: ProbesDoc | None
    health: pd.DataFrame | None = None
    reconcile: ReconcileDoc | None = None
    scenario_thresholds: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cpu: pd.DataFrame | None = None
    pg_log: pd.DataFrame | None = None
    pg_activity: pd.DataFrame | None = None
    pg_stat: pd.DataFrame | None = None
    pg_sampler: PgSamplerDoc | None = None
    pg_statements: PgStatementsDoc | None = None

    @property
    def kind(self) -> str:
        """Scenario kind: load, race, capacity (or suite)."""
        return str(self.run.get("kind") or (self.plan.get("kind") if self.plan else None) or "load")

    @property
    def status(self) -> str:
        """run.json status: complete, incomplete, failed, running."""
        return str(self.run.get("status") or "unknown")

    @property
    def incomplete(self) -> bool:
        """True unless the run says it completed: a killed run still says `running`."""
        return self.status != RunStatus.COMPLETE

    @property
    def phases(self) -> list[Window]:
        """Run phases from run.json (epoch seconds)."""
        out = []
        for p in self.run.get("phases") or []:
            start, end = to_epoch(p.get("start")), to_epoch(p.get("end"))
            if start is not None and end is not None:
                out.append(Window(str(p.get("name")), start, end))
        return out

    @property
    def span(self) -> tuple[float, float] | None:
        """(first, last) time any timed evidence covers, epoch seconds."""
        lo, hi = math.inf, -math.inf
        for df in (self.requests, self.pool):
            if df is not None and len(df):
                lo, hi = min(lo, float(df["ts"].min())), max(hi, float(df["ts"].max()))
        for w in self.phases:
            lo, hi = min(lo, w.start), max(hi, w.end)
        return (lo, hi) if lo <= hi else None


def to_epoch(value: Any) -> float | None:
    """Epoch seconds from a number or an ISO-8601 string; None if absent or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _complete_part(path: Path, notes: list[str]) -> Path | IO[bytes]:
    """The file, or its bytes up to the last newline if a killed writer left a partial line."""
    with open(path, "rb") as fh:
        fh.seek(0, io.SEEK_END)
        size = fh.tell()
        if size == 0:
            return path
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return path
        fh.seek(0)
        data = fh.read()
    cut = data.rfind(b"\n") + 1
    notes.append(
        f"{path.name}: dropped a partial last line ({size - cut} bytes) left by an interrupted writer"
    )
    return io.BytesIO(data[:cut])


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidEvidence(f"{path}: unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidEvidence(f"{path}: expected a JSON object")
    return data


def _read_jsonl(path: Path, notes: list[str], *, skip: bytes | None = None) -> list[dict[str, Any]]:
    """Parse a JSON-lines file line by line (streamed: a 1 M-line service log never sits in memory whole)."""
    rows: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        for no, line in enumerate(fh, start=1):
            if not line.strip() or (skip is not None and skip in line):
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                if not line.endswith(b"\n"):  # the last line, cut by a killed writer
                    notes.append(f"{path.name}: dropped a partial last line")
                    continue
                raise InvalidEvidence(f"{path}:{no}: not JSON: {exc}") from exc
            if isinstance(obj, dict):
                rows.append(obj)
    return rows


def _header(source: Path | IO[bytes]) -> list[str]:
    if isinstance(source, Path):
        with open(source, "rb") as fh:
            line = fh.readline()
    else:
        line = source.readline()
        source.seek(0)
    return line.decode("utf-8", "replace").strip().split(",")


def load_requests(path: Path, notes: list[str]) -> pd.DataFrame:
    """requests.csv -> DataFrame with derived columns `t` (intended or actual send) and `latency_user_ms`.

    Read by pyarrow's CSV reader directly (pandas' pyarrow engine converts strings afterwards and
    peaks at 3x the memory): only the columns the report uses, floats as float64, names and codes
    dictionary-encoded straight into pandas categoricals. 1 M rows: about 0.3 s and 150 MB.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    source = _complete_part(path, notes)
    missing = [c for c in REQUEST_COLUMNS if c not in _header(source)]
    if missing:
        raise InvalidEvidence(f"{path}: missing columns {missing}")
    dictionary = pa.dictionary(pa.int32(), pa.string())
    types = {c: pa.float64() for c in _REQUEST_DTYPES} | {c: dictionary for c in _CATEGORY_COLUMNS}
    try:
        table = pacsv.read_csv(
            source,
            convert_options=pacsv.ConvertOptions(
                include_columns=list(types), column_types=types, strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidEvidence(f"{path}: unreadable CSV: {exc}") from exc
    df: pd.DataFrame = table.to_pandas()
    del table
    df["status"] = df["status"].fillna(0).astype("int32")
    ts = df["ts"].to_numpy()
    intended = df["ts_intended"].to_numpy()
    has_intended = ~np.isnan(intended)
    # what the user waited: from when the open model meant to send, never less than the service time
    wait_ms = np.where(has_intended, np.maximum(ts - np.where(has_intended, intended, ts), 0.0) * 1000.0, 0.0)
    df["latency_user_ms"] = df["latency_ms"].to_numpy() + wait_ms
    df["t"] = np.where(has_intended, intended, ts)
    return df


def load_service_log(path: Path, notes: list[str]) -> pd.DataFrame:
    """service.jsonl (minus per-request lines) -> ts, event, duration, code, status, reason, operation."""
    rows = _read_jsonl(path, notes, skip=_SKIP_EVENT)
    data: dict[str, list[Any]] = {
        k: [] for k in ("ts", "event", "duration", "code", "status", "reason", "operation")
    }
    for r in rows:
        data["ts"].append(to_epoch(r.get("timestamp")))
        data["event"].append(str(r.get("event", "")))
        dur = r.get("duration")
        data["duration"].append(float(dur) if isinstance(dur, int | float) else math.nan)
        data["code"].append(str(r.get("code") or ""))
        sc = r.get("statusCode")
        data["status"].append(int(sc) if isinstance(sc, int) else 0)
        data["reason"].append(str(r.get("reason") or ""))
        data["operation"].append(str(r.get("operation") or r.get("resource") or ""))
    df = pd.DataFrame(data)
    df["ts"] = df["ts"].astype("float64")
    return df


def load_pool(path: Path, notes: list[str]) -> pd.DataFrame:
    """pool.csv -> numeric columns; `utilization_pct` is 100 * active / max where known (0..100)."""
    source = _complete_part(path, notes)
    df = pd.read_csv(source, dtype={"status": "string"})
    for col in POOL_COLUMNS:
        if col == "status":
            continue
        df[col] = pd.to_numeric(df[col], errors="coerce") if col in df.columns else math.nan
    util = df["utilization"].astype("float64")
    # the column's unit is the service's choice (0..1 or 0..100); active/max is unambiguous
    if util.notna().any() and float(util.max()) <= 1.0:
        util = util * 100.0
    from_counts = 100.0 * df["active"] / df["max"].where(df["max"] > 0)
    df["utilization_pct"] = from_counts.fillna(util)
    return df.sort_values("ts", kind="stable").reset_index(drop=True)


def load_health(path: Path, notes: list[str]) -> pd.DataFrame:
    """health.csv -> ts (epoch s when sent), endpoint (live|ready|db), status (0 = no answer), latency_ms."""
    source = _complete_part(path, notes)
    missing = [c for c in HEALTH_COLUMNS if c not in _header(source)]
    if missing:
        raise InvalidEvidence(f"{path}: missing columns {missing}")
    df = pd.read_csv(source, usecols=list(HEALTH_COLUMNS), dtype={"endpoint": "string"})
    for col in ("ts", "status", "latency_ms"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df["status"] = df["status"].fillna(0).astype("int32")
    df["endpoint"] = df["endpoint"].fillna("").astype(str)
    return df.dropna(subset=["ts"]).sort_values("ts", kind="stable").reset_index(drop=True)


def _optional_json(path: Path | None, notes: list[str]) -> dict[str, Any] | None:
    """A JSON object, or None (with a note) when absent or unreadable: no evidence, never a pass."""
    if path is None:
        return None
    try:
        return _read_json(path)
    except InvalidEvidence as exc:
        notes.append(f"{path.name} unreadable, treated as no evidence: {exc}")
        return None


def load_cpu(path: Path, notes: list[str]) -> pd.DataFrame:
    """cpu.csv (long: one row per process group and sample) -> numeric `ts`, `cpu_pct`, `rss_mb`."""
    try:
        df = pd.read_csv(_complete_part(path, notes), dtype={"process": "string"})
    except pd.errors.EmptyDataError:
        df = pd.DataFrame({"ts": [], "process": pd.Series([], dtype="string")})
    for col in ("ts", "cpu_pct", "rss_mb"):
        df[col] = pd.to_numeric(df[col], errors="coerce") if col in df.columns else math.nan
    return df


PG_LOG_COLUMNS = ("ts", "pid", "severity", "state_code", "message", "statement")
# The harness's own `RAISE LOG` line at the run's start (harness/pg_evidence.py LOG_MARKER): without
# it an empty or short postgres.jsonl cannot tell "no lock wait" from "the tail saw nothing".
PG_LOG_MARKER = "loadgate: PostgreSQL log tail start"


def pg_log_time(value: Any) -> float | None:
    """Epoch seconds of a jsonlog `timestamp` ("2026-12-01 06:19:47.648 UTC"); None if unreadable."""
    text = str(value or "")
    for zone in (" UTC", " GMT"):
        if text.endswith(zone):
            text = text[: -len(zone)] + "+00:00"
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp.timestamp() if stamp.tzinfo is not None else None


def load_pg_log(path: Path, notes: list[str]) -> pd.DataFrame | None:
    """postgres.jsonl (PostgreSQL's jsonlog lines of the run's database) -> PG_LOG_COLUMNS, by time.

    None (no evidence, with a note) when the harness's start marker is missing: the tail did not
    see this database's log, so its silence proves nothing.
    """
    data: dict[str, list[Any]] = {k: [] for k in PG_LOG_COLUMNS}
    unreadable = 0
    rows = _read_jsonl(path, notes)
    if not any(str(r.get("message") or "").startswith(PG_LOG_MARKER) for r in rows):
        notes.append(
            f"{path.name} lacks the harness's start marker ({PG_LOG_MARKER!r}): the log tail did not see "
            "this database's log, so PostgreSQL's log is not used as evidence"
        )
        return None
    for r in rows:
        ts = pg_log_time(r.get("timestamp"))
        if ts is None:
            unreadable += 1
            continue
        data["ts"].append(ts)
        data["pid"].append(int(r.get("pid") or 0))
        data["severity"].append(str(r.get("error_severity") or ""))
        data["state_code"].append(str(r.get("state_code") or ""))
        data["message"].append(str(r.get("message") or ""))
        data["statement"].append(str(r.get("statement") or ""))
    if unreadable:
        notes.append(f"{path.name}: {unreadable} lines without a UTC timestamp were skipped")
    df = pd.DataFrame(data)
    df["ts"] = df["ts"].astype("float64")
    return df.sort_values("ts", kind="stable").reset_index(drop=True)


def load_pg_csv(path: Path, notes: list[str], numeric: tuple[str, ...]) -> pd.DataFrame:
    """pg_activity.csv / pg_stat.csv -> a DataFrame with `numeric` columns as floats."""
    try:
        df = pd.read_csv(_complete_part(path, notes), dtype="string", keep_default_na=False)
    except pd.errors.EmptyDataError:
        df = pd.DataFrame({c: [] for c in numeric})
    for col in numeric:
        df[col] = pd.to_numeric(df[col], errors="coerce") if col in df.columns else math.nan
    return df


_PG_ACTIVITY_NUMERIC = ("ts", "pid", "query_start", "waitstart")
_PG_STAT_NUMERIC = PG_STAT_COLUMNS  # every pg_stat_database counter is a number


def _scenario_thresholds(run_dir: Path, plan: PlanDoc | None) -> list[dict[str, Any]]:
    if plan and isinstance(plan.get("thresholds"), list):
        return [t for t in plan["thresholds"] if isinstance(t, dict)]
    path = run_dir / "scenario.toml"
    if path.exists():
        import tomllib

        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise InvalidEvidence(f"{path}: not TOML: {exc}") from exc
        return [t for t in data.get("thresholds", []) if isinstance(t, dict)]
    return []


def read_run_record(run_dir: Path) -> RunRecordDoc:
    """`run.json` of a run or suite folder; `InvalidEvidence` when absent or unreadable."""
    if not (run_dir / files.RUN_JSON).is_file():
        raise InvalidEvidence(f"{run_dir}: no run.json: not a run folder, or the run never started")
    # The files are the contract's shapes (loadgate_contract.records); readers still .get() keys,
    # since a killed or older run may have left fewer.
    return cast(RunRecordDoc, _read_json(run_dir / files.RUN_JSON))


def load_evidence(run_dir: Path) -> Evidence:
    """Read every evidence file of one run folder (not a suite); `InvalidEvidence` if it cannot be judged."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InvalidEvidence(f"{run_dir}: not a run folder")
    run = read_run_record(run_dir)
    notes: list[str] = []
    has_plan = (run_dir / files.PLAN_JSON).exists()
    plan = cast(PlanDoc, _read_json(run_dir / files.PLAN_JSON)) if has_plan else None

    def opt(name: str) -> Path | None:
        p = run_dir / name
        return p if p.exists() else None

    kind = str(run.get("kind") or (plan.get("kind") if plan else None) or "load")
    req_path = opt(files.REQUESTS_CSV)
    if req_path is None and kind in _LOAD_KINDS:
        raise InvalidEvidence(
            f"{run_dir}: no requests.csv: a {kind} run cannot be judged without its samples"
        )
    svc, pool = opt(files.SERVICE_JSONL), opt(files.POOL_CSV)
    races, faults = opt(files.RACES_JSONL), opt(files.FAULTS_JSONL)
    health = opt(files.HEALTH_CSV)
    return Evidence(
        run_dir=run_dir,
        run=run,
        plan=plan,
        requests=load_requests(req_path, notes) if req_path else None,
        service=load_service_log(svc, notes) if svc else None,
        pool=load_pool(pool, notes) if pool else None,
        races=cast(list[RaceTrial], _read_jsonl(races, notes)) if races else None,
        faults=cast(list[FaultRecord], _read_jsonl(faults, notes)) if faults else None,
        probes=cast(ProbesDoc | None, _optional_json(opt(files.PROBES_JSON), notes)),
        health=load_health(health, notes) if health else None,
        reconcile=cast(ReconcileDoc | None, _optional_json(opt(files.RECONCILE_JSON), notes)),
        scenario_thresholds=_scenario_thresholds(run_dir, plan),
        notes=notes,
        cpu=load_cpu(cpu, notes) if (cpu := opt(files.CPU_CSV)) else None,
        pg_log=load_pg_log(pg_log, notes) if (pg_log := opt(files.POSTGRES_JSONL)) else None,
        pg_activity=load_pg_csv(act, notes, _PG_ACTIVITY_NUMERIC)
        if (act := opt(files.PG_ACTIVITY_CSV))
        else None,
        pg_stat=load_pg_csv(stat, notes, _PG_STAT_NUMERIC) if (stat := opt(files.PG_STAT_CSV)) else None,
        pg_sampler=cast(PgSamplerDoc | None, _optional_json(opt(files.PG_SAMPLER_JSON), notes)),
        pg_statements=cast(PgStatementsDoc | None, _optional_json(opt(files.PG_STATEMENTS_JSON), notes)),
    )
