"""Database backends a run can use: embedded (default), an existing server, or a Docker container.

Each backend gives a maintenance URL; the run creates its own fresh database on it, so runs never
see each other's rows. Only the embedded backend exposes the postmaster for process faults.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psycopg

from harness.db.base import DatabaseError, free_port, recreate_database, wait_until_accepting, with_database
from harness.db.embedded import EmbeddedPostgres


class Backend(Protocol):
    kind: str

    @property
    def admin_url(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def describe(self) -> dict[str, Any]: ...


def server_version(url: str) -> str | None:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return None
    return str(row[0]) if row else None


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

    def describe(self) -> dict[str, Any]:
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

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": _redact(self.url), "version": server_version(self.url)}


@dataclass
class DockerBackend:
    """PostgreSQL in a container, through the Docker engine's API (the `docker` SDK)."""

    image: str = "postgres:16-alpine"
    kind: str = "docker"
    port: int = field(default_factory=free_port)
    _container: Any = field(default=None, init=False)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres:loadgate@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        if not os.environ.get("DOCKER_HOST") and not _unix_socket_answers("/var/run/docker.sock"):
            raise DatabaseError(self._no_engine(FileNotFoundError("/var/run/docker.sock")))
        try:
            import docker

            client = docker.from_env()
        except Exception as exc:
            raise DatabaseError(self._no_engine(exc)) from exc
        try:
            client.ping()
        except Exception as exc:
            client.close()
            raise DatabaseError(self._no_engine(exc)) from exc
        self._container = client.containers.run(
            self.image,
            detach=True,
            remove=True,
            environment={"POSTGRES_PASSWORD": "loadgate"},
            ports={"5432/tcp": ("127.0.0.1", self.port)},
            labels={"loadgate": "1"},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                wait_until_accepting(self.admin_url, timeout_s=2)
                return
            except DatabaseError:
                continue
        self.stop()
        raise DatabaseError(f"the {self.image} container did not accept connections within 60s")

    @staticmethod
    def _no_engine(exc: Exception) -> str:
        return (
            f"no Docker engine answers ({exc.__class__.__name__}); use the embedded backend "
            "(the default) or DATABASE_URL"
        )

    def stop(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):  # already gone is fine
                self._container.stop(timeout=10)
            self._container = None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "image": self.image, "url": self.admin_url}


def _unix_socket_answers(path: str) -> bool:
    """Probe the engine's socket ourselves: the SDK leaks its socket when nothing answers."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


def _redact(url: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    if info.get("password"):
        info["password"] = "***"
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items() if v is not None})


def make_backend(kind: str, *, database_url: str | None = None, data_dir: Path | None = None) -> Backend:
    """The backend for `kind` (`embedded`, `external`, `docker`); a URL implies `external`."""
    if database_url:
        return ExternalBackend(database_url)
    if kind == "embedded":
        return EmbeddedBackend(data_dir=data_dir)
    if kind == "docker":
        return DockerBackend()
    if kind == "external":
        raise DatabaseError("the external backend needs --database-url or DATABASE_URL")
    raise DatabaseError(f"unknown database backend {kind!r} (embedded, external, docker)")
