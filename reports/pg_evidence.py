"""Events PostgreSQL itself shows, derived from the run folder's PostgreSQL files (docs/pg-evidence.md).

Two sources, each with its own resolution:
- **PostgreSQL's log** (`postgres.jsonl`, a server the harness owns): `log_lock_waits` logs a wait
  once it passes `deadlock_timeout` (10 ms) and then "acquired ... after N ms"; a wait that never
  acquired (a lock timeout, a cancel, a deadlock victim) ends with the backend's next ERROR, and
  its duration is that error's time minus the wait's start (the "still waiting" line's time minus
  its N ms). `duration: N ms` lines are statements of 100 ms or more (`log_min_duration_statement`).
  ERRORs carry their SQLSTATE: 40P01 deadlock, 40001 serialization failure.
- **Sampling** (`pg_activity.csv`, any URL): observations of `pg_locks` (not granted) and of
  statements running for 50 ms or more. Grouped by (pid, waitstart) a wait lasted at least the
  last time it was seen minus `waitstart`; grouped by (pid, query_start) a statement ran at least
  the last time it was seen minus `query_start`: lower bounds, short by less than one interval.
  `pg_stat.csv` gives deadlocks and rollbacks as deltas of `pg_stat_database`'s counters.
Each event has `began` and `ended` (epoch s, the server's clock) and `duration_ms`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reports.evidence import Evidence

LOG_LOCK_RESOLUTION_MS = 10.0  # deadlock_timeout on servers the harness owns (harness/db/base.py)
LOG_SLOW_RESOLUTION_MS = 100.0  # log_min_duration_statement on those servers
DEADLOCK, SERIALIZATION = "40P01", "40001"
EVENT_COLUMNS = ["began", "ended", "duration_ms", "pid", "outcome", "statement"]

_WAITING = re.compile(r"^process \d+ still waiting for (.+?) after ([\d.]+) ms")
_ACQUIRED = re.compile(r"^process \d+ acquired (.+?) after ([\d.]+) ms")
_DEADLOCK_WAIT = re.compile(r"^process \d+ detected deadlock while waiting for (.+?) after ([\d.]+) ms")
_DURATION = re.compile(r"^duration: ([\d.]+) ms")


@dataclass(frozen=True)
class Source:
    """Where a check's evidence came from: `key` for machines, `label` for people, and (PostgreSQL's
    sources) the events derived from it; the service log's events are read by the measure itself."""

    key: str
    label: str
    resolution_ms: float = 0.0
    events: pd.DataFrame | None = field(default=None, compare=False, repr=False)


POSTGRES_LOG = "postgres_log"
PG_SAMPLING = "pg_sampling"
SERVICE_LOG = "service_log"


def sampling_interval_ms(ev: Evidence) -> float:
    """The sampler's interval (pg_sampler.json), 50 ms (20 Hz) when it does not say."""
    hz = float((ev.pg_sampler or {}).get("hz") or 20.0)
    return 1000.0 / hz if hz > 0 else 50.0


Derive = Callable[[pd.DataFrame], pd.DataFrame]


def _strongest(
    ev: Evidence, log: tuple[str, float, Derive], sampled: tuple[str, Derive], service: str
) -> Source | None:
    """PostgreSQL's log > PostgreSQL sampling > the service's log, whichever the run folder has."""
    if ev.pg_log is not None:
        label, resolution, derive = log
        return Source(POSTGRES_LOG, label, resolution, derive(ev.pg_log))
    if ev.pg_activity is not None:
        what, derive = sampled
        ms = sampling_interval_ms(ev)
        return Source(
            PG_SAMPLING, f"PostgreSQL sampling ({what} every {ms:g} ms)", ms, derive(ev.pg_activity)
        )
    return Source(SERVICE_LOG, service) if ev.service is not None else None


def lock_wait_source(ev: Evidence) -> Source | None:
    """The strongest source of lock waits, with its waits when it is PostgreSQL's."""
    log = ("PostgreSQL log (log_lock_waits, 10 ms resolution)", LOG_LOCK_RESOLUTION_MS, log_lock_waits)
    return _strongest(ev, log, ("pg_locks", sampled_lock_waits), "service log (lock_wait events)")


def slow_statement_source(ev: Evidence) -> Source | None:
    """The strongest source of slow statements, with its statements when it is PostgreSQL's."""
    log = (
        "PostgreSQL log (log_min_duration_statement = 100 ms)",
        LOG_SLOW_RESOLUTION_MS,
        log_slow_statements,
    )
    sampled = ("pg_stat_activity", sampled_statements)
    return _strongest(ev, log, sampled, "service log (slow_query_detected events)")


def _frame(rows: list[tuple[float, float, float, int, str, str]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    for col in ("began", "ended", "duration_ms"):
        df[col] = df[col].astype("float64")
    return df


def log_lock_waits(log: pd.DataFrame) -> pd.DataFrame:
    """Lock waits of 10 ms or more from the log; `outcome`: acquired, deadlock, the ending SQLSTATE, open."""
    rows: list[tuple[float, float, float, int, str, str]] = []
    open_waits: dict[int, tuple[float, str]] = {}  # pid -> (began, statement)
    for ts, pid, severity, code, message, statement in log[
        ["ts", "pid", "severity", "state_code", "message", "statement"]
    ].itertuples(index=False):
        if m := _WAITING.match(message):
            open_waits.setdefault(pid, (ts - float(m.group(2)) / 1000.0, statement))
        elif m := _ACQUIRED.match(message):
            ms = float(m.group(2))
            open_waits.pop(pid, None)
            rows.append((ts - ms / 1000.0, ts, ms, pid, "acquired", statement))
        elif m := _DEADLOCK_WAIT.match(message):
            ms = float(m.group(2))
            open_waits.pop(pid, None)
            rows.append((ts - ms / 1000.0, ts, ms, pid, "deadlock", statement))
        elif severity in ("ERROR", "FATAL") and pid in open_waits:
            began, stmt = open_waits.pop(pid)  # a lock timeout, a cancel: the wait ended here
            rows.append((began, ts, (ts - began) * 1000.0, pid, code or severity, stmt))
    end = float(log["ts"].max()) if len(log) else 0.0
    for pid, (began, stmt) in open_waits.items():  # still waiting when the run ended
        rows.append((began, end, max(0.0, (end - began) * 1000.0), pid, "open", stmt))
    return _frame(rows)


def log_slow_statements(log: pd.DataFrame) -> pd.DataFrame:
    """Statements of `log_min_duration_statement` or more, from their `duration: N ms` lines."""
    rows = []
    for ts, pid, message in log[["ts", "pid", "message"]].itertuples(index=False):
        if m := _DURATION.match(message):
            ms = float(m.group(1))
            text = message.split("  ", 1)[1] if "  " in message else ""
            rows.append((ts - ms / 1000.0, ts, ms, pid, "completed", text[:200]))
    return _frame(rows)


def log_errors(log: pd.DataFrame, state_code: str) -> pd.DataFrame:
    """ERRORs with `state_code` (40P01 deadlock, 40001 serialization failure) as instant events."""
    hit = log[(log["state_code"] == state_code) & (log["severity"] == "ERROR")]
    rows = [
        (ts, ts, 0.0, pid, state_code, st)
        for ts, pid, st in hit[["ts", "pid", "statement"]].itertuples(index=False)
    ]
    return _frame(rows)


def _grouped(obs: pd.DataFrame, start_col: str, outcome: str) -> pd.DataFrame:
    obs = obs.dropna(subset=["ts", "pid", start_col])
    if obs.empty:
        return _frame([])
    g = obs.groupby(["pid", start_col], sort=False).agg(ended=("ts", "max"), statement=("query", "last"))
    g = g.reset_index()
    return pd.DataFrame(
        {
            "began": g[start_col].astype("float64"),
            "ended": g["ended"].astype("float64"),
            "duration_ms": (g["ended"] - g[start_col]).clip(lower=0).astype("float64") * 1000.0,
            "pid": g["pid"].astype("int64"),
            "outcome": outcome,
            "statement": g["statement"].astype(str),
        }
    )


def sampled_lock_waits(activity: pd.DataFrame) -> pd.DataFrame:
    """Lock waits seen by sampling, one per (pid, waitstart); durations are lower bounds."""
    return _grouped(activity[activity["waitstart"].notna()], "waitstart", "seen waiting")


def sampled_statements(activity: pd.DataFrame) -> pd.DataFrame:
    """Statements seen running, one per (pid, query_start); durations are lower bounds."""
    return _grouped(activity[activity["state"] == "active"], "query_start", "seen running")


def stat_delta(stat: pd.DataFrame, column: str, keep: np.ndarray | None = None) -> int:
    """Increase of a pg_stat_database counter between samples (a reset to lower values is skipped).

    `keep` selects the samples whose interval (ending at that sample) counts, for a time scope.
    """
    values = stat[column].to_numpy(dtype=np.float64, na_value=np.nan)
    if values.size < 2:
        return 0
    steps = np.diff(values)
    steps = np.where(np.isfinite(steps) & (steps > 0), steps, 0.0)
    if keep is not None:
        steps = steps[np.asarray(keep, dtype=bool)[1:]]
    return int(steps.sum())
