"""What every database backend shares: errors, free ports, readiness, scratch databases."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping

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


# The server settings an owned server (embedded, Docker) starts with, so that PostgreSQL's own log
# is evidence (docs/pg-evidence.md): lock waits past deadlock_timeout and their end ("acquired ...
# after N ms"), statements of 100 ms or more, errors with their SQLSTATE, as one JSON object a
# line in `log/postgresql.json` (the stderr lines go to `log/postgresql.log` beside it). Rotation
# is off so one file holds the whole life of the server, and a restart appends to it.
SERVER_LOG_FILE = "postgresql.json"
SERVER_LOG_SETTINGS: dict[str, str] = {
    "logging_collector": "on",
    "log_destination": "stderr,jsonlog",
    "log_directory": "log",
    "log_filename": "postgresql.log",
    "log_rotation_age": "0",
    "log_rotation_size": "0",
    "log_timezone": "UTC",  # the report reads the jsonlog's timestamps as UTC
    "log_lock_waits": "on",
    "deadlock_timeout": "10ms",
    "log_min_duration_statement": "100",
}
# Settings only some versions know (PostgreSQL 18: NOWAIT failures); set after start when SHOW knows them.
OPTIONAL_LOG_SETTINGS: dict[str, str] = {"log_lock_failures": "on"}


def server_log_args() -> list[str]:
    """`-c name=value` arguments for SERVER_LOG_SETTINGS."""
    return [arg for name, value in SERVER_LOG_SETTINGS.items() for arg in ("-c", f"{name}={value}")]


# SERIALIZABLE transactions predicate-lock (SIRead) what they read: tuples, promoted to their page
# past max_pred_locks_per_page (2) and to the whole relation past max_pred_locks_per_relation
# (default: half of max_pred_locks_per_transaction, 32 pages). A wallet's ledger entries interleave
# with every other wallet's in the heap, so a capture's balance read visits about one heap page
# per entry of the payer: past ~32 entries it locked all of `ledger_entries`, and every concurrent
# capture, whatever its wallet, inserted into it and conflicted (BENCHMARKS.md, "Service
# capacity"). Finer locks are the same guarantee with fewer false conflicts; the shared lock table
# (max_pred_locks_per_transaction x max_connections entries, about 25 MB here) is sized so 20
# captures of wallets with 2,000 entries each fit. `LOADGATE_PG_SETTINGS="name=value ..."` adds or
# overrides settings (a bench's before/after: the PostgreSQL defaults are -2 and 64).
SERVER_LOCK_SETTINGS: dict[str, str] = {
    "max_pred_locks_per_transaction": "512",
    "max_pred_locks_per_relation": "2048",
}


def server_args(environ: Mapping[str, str] | None = None) -> list[str]:
    """`-c name=value` arguments an owned server starts with: log and lock settings, then
    `LOADGATE_PG_SETTINGS` (name=value pairs separated by spaces or commas; later ones win)."""
    env = os.environ if environ is None else environ
    extra: dict[str, str] = {}
    for item in env.get("LOADGATE_PG_SETTINGS", "").replace(",", " ").split():
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"LOADGATE_PG_SETTINGS: {item!r} is not name=value")
        extra[name] = value
    settings = {"max_connections": "200", **SERVER_LOG_SETTINGS, **SERVER_LOCK_SETTINGS, **extra}
    return [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]


def enable_optional_logging(admin_url: str) -> list[str]:
    """Turn on OPTIONAL_LOG_SETTINGS the server knows (ALTER SYSTEM + reload); return those set."""
    enabled = []
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        for name, value in OPTIONAL_LOG_SETTINGS.items():
            try:
                conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name)))
            except psycopg.errors.UndefinedObject:
                continue  # an older server: the evidence it would add is simply absent
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
            enabled.append(name)
        if enabled:
            conn.execute("SELECT pg_reload_conf()")
    return enabled
