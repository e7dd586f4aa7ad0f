"""Faults made of outside database sessions: `pool_exhaustion` and `lock_hold`.

Both open their own connections straight to PostgreSQL (not through the fault proxy: they are
the "other tenant", not the service's network) and hold them, idle in a transaction, until revert.

`pool_exhaustion` params: `connections` (how many to hold; default: every free slot except the
superuser-reserved ones). `lock_hold` params: `table` (required), `where` (SQL condition, default
all rows; it is the scenario author's own SQL, run against the run's own database), `limit`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from harness.errors import InvalidInput
from harness.faults.base import FaultContext, FaultFailed, FaultKind, identifier, integer, no_unknown

CONNECT_TIMEOUT_S = 5
LOCK_TIMEOUT_MS = 10_000


def _url(context: FaultContext, kind: str) -> str:
    if not context.database_url:
        raise FaultFailed(f"{kind}: the run has no database URL")
    return context.database_url


def _close_all(conns: list[psycopg.Connection[Any]]) -> int:
    closed = 0
    while conns:
        conn = conns.pop()
        with contextlib.suppress(psycopg.Error):
            conn.close()  # closing ends the open transaction: a rollback, the locks are released
            closed += 1
    return closed


class PoolExhaustion:
    """Hold `connections` idle-in-transaction sessions, so new connections are refused."""

    kind = "pool_exhaustion"

    def __init__(self, params: Mapping[str, Any], context: FaultContext) -> None:
        self.url = _url(context, self.kind)
        self.wanted: int | None = params.get("connections")
        self.conns: list[psycopg.Connection[Any]] = []

    def _free_slots(self) -> int:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            row = conn.execute(
                "SELECT current_setting('max_connections')::int"
                " - current_setting('superuser_reserved_connections')::int"
                " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int"
            ).fetchone()
        # +1: the connection that asked is closed by now.
        return max(0, int(row[0]) + 1) if row else 0

    def apply(self) -> str:
        try:
            wanted = self.wanted if self.wanted is not None else self._free_slots()
        except psycopg.Error as exc:
            raise FaultFailed(f"{self.kind}: could not count free connections: {exc}") from exc
        if wanted <= 0:
            raise FaultFailed(f"{self.kind}: no free connection slot to take")
        last: psycopg.Error | None = None
        for _ in range(wanted):
            try:
                conn = psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S)
                conn.execute("SELECT 1")  # opens the transaction: the session stays idle in it
            except psycopg.Error as exc:
                last = exc  # the server is full before we are: what we hold is the fault
                break
            self.conns.append(conn)
        if not self.conns:
            raise FaultFailed(f"{self.kind}: could not open a single connection: {last}")
        detail = f"holding {len(self.conns)} of {wanted} connections idle in transaction"
        return detail if last is None else f"{detail} (server full: {str(last).strip()})"

    def revert(self) -> str:
        return f"closed {_close_all(self.conns)} connections"


class LockHold:
    """Hold `SELECT ... FOR UPDATE` row locks on `table` in an open outside transaction."""

    kind = "lock_hold"

    def __init__(self, params: Mapping[str, Any], context: FaultContext) -> None:
        self.url = _url(context, self.kind)
        self.table = str(params["table"])
        self.where: str | None = params.get("where")
        self.limit: int | None = params.get("limit")
        self.conns: list[psycopg.Connection[Any]] = []

    def query(self) -> sql.Composed:
        """The locking statement (identifiers quoted; `where` is the author's SQL as written)."""
        parts = [sql.Identifier(p) for p in self.table.split(".")]
        query = sql.SQL("SELECT 1 FROM {} WHERE {}").format(
            sql.SQL(".").join(parts),
            sql.SQL(self.where or "TRUE"),
        )
        if self.limit is not None:
            query += sql.SQL(" LIMIT {}").format(sql.Literal(self.limit))
        return query + sql.SQL(" FOR UPDATE")

    def apply(self) -> str:
        try:
            conn = psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S)
            self.conns.append(conn)
            # Bounded: rows the load already holds would otherwise make the fault wait forever.
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{LOCK_TIMEOUT_MS}ms")))
            rows = conn.execute(self.query()).rowcount
        except psycopg.Error as exc:
            raise FaultFailed(
                f"{self.kind}: could not lock rows of {self.table}: {str(exc).strip()}"
            ) from exc
        if rows <= 0:
            raise FaultFailed(
                f"{self.kind}: no row of {self.table} matched {self.where or 'TRUE'}: nothing to hold"
            )
        return f"holding FOR UPDATE locks on {rows} rows of {self.table}"

    def revert(self) -> str:
        return f"released ({_close_all(self.conns)} connection closed)"


def check_pool(params: Mapping[str, Any], where: str) -> None:
    """`connections`: optional int >= 1."""
    no_unknown(params, {"connections"}, where)
    integer(params, "connections", where, minimum=1)


def check_lock(params: Mapping[str, Any], where: str) -> None:
    """`table` required identifier; `where` optional non-empty string; `limit` optional int >= 1."""
    no_unknown(params, {"table", "where", "limit"}, where)
    if identifier(params, "table", where) is None:
        raise InvalidInput(f"{where}.table: required (the table whose rows to lock, e.g. wallets)")
    if "where" in params and (not isinstance(params["where"], str) or not params["where"].strip()):
        raise InvalidInput(f"{where}.where: must be a non-empty SQL condition, got {params['where']!r}")
    if "where" in params and ";" in params["where"]:
        raise InvalidInput(f"{where}.where: one condition, no ';'")
    integer(params, "limit", where, minimum=1)


_DB = ("embedded", "external", "docker")
_NEEDS = "a database the harness may write to (not a --target run)"
KINDS = [
    FaultKind("pool_exhaustion", check_pool, _DB, _NEEDS, PoolExhaustion),
    FaultKind("lock_hold", check_lock, _DB, _NEEDS, LockHold),
]
