"""PostgreSQL's evidence for one run: the sampler (any URL) and, on a server we own, its log.

`postgres.jsonl` gets the server's `jsonlog` lines of the run's database written during the run
(a suite runs several scenarios on one server, each in its own database); `pg_activity.csv`,
`pg_stat.csv` and `pg_statements.json` come from harness/pg_sampler.py. Neither ever ends a run:
what goes wrong is returned by `stop()` as notes for run.json's errors.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from harness.log_tail import LogTail, Source, SqlFileSource
from harness.pg_sampler import PgSampler

SAMPLER_HZ_ENV = "LOADGATE_PG_SAMPLER_HZ"
# `RAISE LOG` lines the run writes into its own database's log at its start and end (docs/contracts.md):
# an empty postgres.jsonl then means "no event", not "the tail saw nothing" (reports/evidence.py).
LOG_MARKER = "loadgate: PostgreSQL log tail"
END_WAIT_S = 5.0


def mark_log(database_url: str, what: str) -> None:
    """Write `LOG_MARKER what` into the server's log, tagged with this database's name."""
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"DO $$BEGIN RAISE LOG '{LOG_MARKER} {what}'; END$$".encode())


def _holds(path: Path, text: str) -> bool:
    """Whether the last 64 KB of `path` hold `text` (the end marker is among the newest lines)."""
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 65536))
        return text.encode() in fh.read()


def _server_log(backend: Any) -> Source | Path | None:
    """Where an owned server's jsonlog can be read: its file (embedded) or through SQL (Docker)."""
    pg = getattr(backend, "pg", None)
    if pg is not None and hasattr(pg, "jsonlog_path"):
        return Path(pg.jsonlog_path)
    if getattr(backend, "kind", None) == "docker":
        return SqlFileSource(backend.admin_url)
    return None


def _same_database(dbname: str) -> Any:
    needle = json.dumps(dbname).encode()

    def keep(line: bytes) -> bool:
        if b'"dbname":' + needle not in line:  # a byte test first: most lines are other databases'
            return False
        try:
            return bool(json.loads(line).get("dbname") == dbname)
        except ValueError:
            return False

    return keep


class PgEvidence:
    """Start with `start()`, end with `stop()` (idempotent); both swallow their errors into notes."""

    def __init__(
        self,
        run_dir: Path,
        database_url: str | None,
        backend: Any = None,
        note: Callable[[str], object] | None = None,
    ) -> None:
        self.note = note
        self.run_dir = run_dir
        self.database_url = database_url
        self.backend = backend
        self.sampler: PgSampler | None = None
        self.tail: LogTail | None = None
        self.notes: list[str] = []

    def start(self) -> None:
        if not self.database_url:
            return
        dbname = psycopg.conninfo.conninfo_to_dict(self.database_url).get("dbname")
        try:
            source = _server_log(self.backend) if self.backend is not None else None
            if source is not None and dbname:
                if isinstance(source, Path) and not source.exists():
                    raise FileNotFoundError(f"{source}: the server writes no jsonlog")
                self.tail = LogTail(
                    source,
                    self.run_dir / "postgres.jsonl",
                    keep=_same_database(str(dbname)),
                    name="pg-log-tail",
                )
                self.tail.start()
                mark_log(self.database_url, "start")
        except Exception as exc:
            self.tail = None
            self.notes.append(f"PostgreSQL log tail did not start: {type(exc).__name__}: {exc}")
        try:
            hz = float(os.environ.get(SAMPLER_HZ_ENV, "20"))
            self.sampler = PgSampler(self.database_url, self.run_dir, hz=hz)
            self.sampler.start()
        except Exception as exc:
            self.sampler = None
            self.notes.append(f"PostgreSQL sampler did not start: {type(exc).__name__}: {exc}")

    def stop(self) -> list[str]:
        """Stop both; return the notes (errors) for run.json, also given to `note`."""
        if self.tail is not None:
            self._end_marked()
            self.tail.stop()
            self.notes += [f"PostgreSQL log tail: {e}" for e in self.tail.errors]
            self.tail = None
        if self.sampler is not None:
            self.sampler.stop()
            self.notes += self.sampler.errors
            if self.sampler.error_count > len(self.sampler.errors):
                self.notes.append(f"PostgreSQL sampler: {self.sampler.error_count} errors in all")
            self.sampler = None
        notes, self.notes = self.notes, []
        if self.note is not None:
            for text in notes:
                self.note(text)
        return notes

    def _end_marked(self) -> None:
        """Mark the end in the log and wait (bounded) until the tail has copied it: the run's last lines."""
        assert self.tail is not None and self.database_url is not None
        try:
            mark_log(self.database_url, "end")
        except psycopg.Error as exc:
            self.notes.append(f"PostgreSQL log tail: no end marker: {type(exc).__name__}: {exc}")
            return
        deadline = time.monotonic() + END_WAIT_S
        while not _holds(self.tail.dest, f"{LOG_MARKER} end") and time.monotonic() < deadline:
            time.sleep(0.05)
