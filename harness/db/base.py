"""What every database backend shares: errors, free ports, readiness, scratch databases."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import psycopg
from psycopg import sql

from harness.errors import RunFailed


class DatabaseError(RunFailed):
    """A database backend could not be started, reached or prepared."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_until_accepting(url: str, *, timeout_s: float, alive: Callable[[], bool] = lambda: True) -> None:
    """Poll until PostgreSQL at `url` answers a query, or raise with the last error."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not alive():
            raise DatabaseError(f"PostgreSQL exited before accepting connections ({url})")
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.Error as exc:
            last = exc
            time.sleep(0.1)
    raise DatabaseError(f"PostgreSQL at {url} did not accept connections within {timeout_s:.0f}s: {last}")


def server_version(url: str) -> str | None:
    """The server's `server_version`, None when it does not answer."""
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return None
    return str(row[0]) if row else None


def recreate_database(admin_url: str, name: str) -> None:
    """Drop (if present) and create database `name`, using the maintenance connection `admin_url`."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def with_database(url: str, name: str) -> str:
    """`url` with its database name replaced by `name`."""
    return psycopg.conninfo.make_conninfo(url, dbname=name)
