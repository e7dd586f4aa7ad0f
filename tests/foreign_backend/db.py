"""The connection pool, the schema, and the two ways a handler talks to PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from tests.foreign_backend.config import Settings

SCHEMA = Path(__file__).with_name("schema.sql")
Conn = psycopg.Connection[DictRow]


def migrate(database_url: str) -> None:
    """Create the schema if absent (every statement is IF NOT EXISTS); serialized by an advisory lock."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('foreign_backend_schema'))")
        try:
            conn.execute(SCHEMA.read_text().encode())
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('foreign_backend_schema'))")


class Database:
    """A psycopg_pool of autocommit connections that time out instead of hanging."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: ConnectionPool[Conn] = ConnectionPool(
            settings.database_url,
            min_size=settings.pool_min,
            max_size=settings.pool_max,
            timeout=settings.pool_timeout_s,
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "connect_timeout": 5,
                "options": f"-c statement_timeout={settings.statement_timeout_ms}",
            },
            open=False,
            name="foreign",
        )

    def open(self) -> None:
        self.pool.open(wait=False)

    def close(self) -> None:
        self.pool.close(timeout=5)

    @contextmanager
    def connection(self) -> Iterator[Conn]:
        """An autocommit connection: each statement is its own transaction."""
        with self.pool.connection() as conn:
            yield conn

    @contextmanager
    def transaction(self, isolation: str = "READ COMMITTED") -> Iterator[Conn]:
        """A connection inside one transaction at `isolation`, committed when the block ends."""
        with self.pool.connection() as conn, conn.transaction():
            if isolation != "READ COMMITTED":
                conn.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation}".encode())
            yield conn

    def race_window(self) -> None:
        """Sleep the configured window between a read and the write that depends on it."""
        if self.settings.race_window_ms > 0:
            time.sleep(self.settings.race_window_ms / 1000)

    def stats(self) -> dict[str, Any]:
        """The pool's own statistics in API.md's shape."""
        s = self.pool.get_stats()
        size = s.get("pool_size", 0)
        idle = s.get("pool_available", 0)
        maximum = s.get("pool_max", self.settings.pool_max)
        active = max(size - idle, 0)
        return {
            "size": size,
            "active": active,
            "idle": idle,
            "waiting": s.get("requests_waiting", 0),
            "max": maximum,
            "utilization": round(active / maximum, 4) if maximum else 0.0,
        }


def one(conn: Conn, sql: str, params: Any = None) -> DictRow | None:
    """The first row of `sql`, or None."""
    return conn.execute(sql.encode(), params).fetchone()


def all_rows(conn: Conn, sql: str, params: Any = None) -> list[DictRow]:
    """Every row of `sql`."""
    return conn.execute(sql.encode(), params).fetchall()
