"""The connection pool and the one way the service talks to PostgreSQL: timed, bounded calls.

Every call is measured (`slow_query_detected` above SLOW_QUERY_MS) and bounded on the client side
(`Settings.query_timeout_s`), because `statement_timeout` cannot fire on a server that does not
run. A broken connection (database restarted) surfaces as 503 DATABASE_UNAVAILABLE once; the pool
drops it on return and a background `pool.check()` clears the other idle connections, so the
service reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, LiteralString

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from reference_service.config import Settings
from reference_service.errors import DatabaseUnavailable
from reference_service.logs import JsonLogger

Params = Sequence[Any] | Mapping[str, Any] | None
Conn = AsyncConnection[DictRow]


class Database:
    """An AsyncConnectionPool plus the settings and logger every session needs."""

    def __init__(self, settings: Settings, log: JsonLogger) -> None:
        self.settings = settings
        self.log = log
        self.pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            settings.database_url,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            timeout=settings.pool_timeout_s,
            open=False,
            name="reference_service",
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "connect_timeout": 3,
                "options": f"-c statement_timeout={settings.statement_timeout_ms}",
            },
            reconnect_timeout=0,  # keep trying to reconnect for ever after a database restart
        )
        self.platform_wallet_id: str | None = None
        self._checking = False
        self._gave_up = False
        self._pending: set[asyncio.Task[Any]] = set()

    async def open(self) -> None:
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close(timeout=2.0)

    def _schedule_check(self) -> None:
        if self.settings.has_defect("no_reconnect"):
            self._give_up()
            return
        if self._checking:
            return
        self._checking = True

        async def check() -> None:
            try:
                await self.pool.check()
            except Exception:
                pass
            finally:
                self._checking = False

        self._keep(asyncio.get_running_loop().create_task(check()))

    def _give_up(self) -> None:
        """DEFECTS=no_reconnect: a service that never reconnects. The first broken connection closes
        the pool, so every later request answers 503 until the service is restarted."""
        if self.pool.closed or self._gave_up:
            return
        self._gave_up = True
        self.log.error("pool_closed_no_reconnect", defect="no_reconnect")
        self._keep(asyncio.get_running_loop().create_task(self.pool.close(timeout=0.5)))

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._pending.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved on purpose: an abandoned query's error is expected

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        """A pooled connection for one unit of work; pool and connection failures become 503."""
        try:
            async with self.pool.connection() as conn:
                yield Session(self, conn)
        except PoolTimeout:
            raise DatabaseUnavailable("No database connection available in time") from None
        except psycopg.OperationalError as exc:
            if not isinstance(exc, psycopg.errors.QueryCanceled):
                self._schedule_check()
            raise DatabaseUnavailable() from exc

    def stats(self) -> dict[str, Any]:
        s = self.pool.get_stats()
        size = s.get("pool_size", 0)
        idle = s.get("pool_available", 0)
        maximum = s.get("pool_max", self.settings.pool_max_size)
        active = max(size - idle, 0)
        return {
            "size": size,
            "active": active,
            "idle": idle,
            "waiting": s.get("requests_waiting", 0),
            "max": maximum,
            "utilization": round(active / maximum, 4) if maximum else 0.0,
        }


class Session:
    """One checked-out connection; every query goes through `_run` (timed and bounded)."""

    def __init__(self, db: Database, conn: Conn) -> None:
        self.db = db
        self.conn = conn

    async def race_window(self) -> None:
        """Pause between a check and the write that depends on it (`RACE_WINDOW_MS`, default 0).

        Every safeguarded check-then-act path calls this, guarded or not. Widening the window
        makes the unguarded race reproducible on a loaded machine, where requests released
        together can arrive a few milliseconds apart and never overlap; the guarded path must
        hold under the same window, which makes its proof stronger rather than weaker.
        """
        if self.db.settings.race_window_ms > 0:
            await asyncio.sleep(self.db.settings.race_window_ms / 1000)

    async def _run(self, sql: LiteralString, params: Params, op: str, fetch: str) -> Any:
        start = time.perf_counter()
        task = asyncio.ensure_future(self._execute(sql, params, fetch))
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.db.settings.query_timeout_s)
        except TimeoutError:
            await self._abandon(task)
            raise DatabaseUnavailable("Database did not answer in time") from None
        finally:
            duration = (time.perf_counter() - start) * 1000
            if duration > self.db.settings.slow_query_ms:
                self.db.log.warn(
                    "slow_query_detected",
                    duration=round(duration, 2),
                    threshold=self.db.settings.slow_query_ms,
                    operation=op,
                )

    async def _abandon(self, task: asyncio.Task[Any]) -> None:
        """Give up on a query that overran its bound, without waiting for the server.

        Cancelling the task makes psycopg send a cancel request and wait for the query to end
        (up to 5 s each, AsyncConnection.wait), holding the connection's lock; leaving the pool's
        `async with conn` then waits on that lock to roll back: ~12 s on a stopped server. So the
        connection is closed instead: `close()` takes no lock, a closed connection skips the
        rollback, and the pool replaces it. The task gets one short wait first, so that it removes
        its socket reader before the socket is closed (the fd could be reused by a new connection).
        """
        task.cancel()
        self.db._keep(task)
        await asyncio.wait({task}, timeout=0.05)
        await self.conn.close()

    async def _execute(self, sql: LiteralString, params: Params, fetch: str) -> Any:
        cur = await self.conn.execute(sql, params)
        if fetch == "one":
            return await cur.fetchone()
        if fetch == "all":
            return await cur.fetchall()
        return cur.rowcount

    async def one(self, sql: LiteralString, params: Params = None, *, op: str) -> DictRow | None:
        row: DictRow | None = await self._run(sql, params, op, "one")
        return row

    async def all(self, sql: LiteralString, params: Params = None, *, op: str) -> list[DictRow]:
        rows: list[DictRow] = await self._run(sql, params, op, "all")
        return rows

    async def execute(self, sql: LiteralString, params: Params = None, *, op: str) -> int:
        count: int = await self._run(sql, params, op, "count")
        return count

    @contextlib.asynccontextmanager
    async def transaction(self, isolation: str = "READ COMMITTED") -> AsyncIterator[Session]:
        """BEGIN at `isolation` ... COMMIT, or ROLLBACK when the block raises."""
        if isolation == "SERIALIZABLE":
            await self.execute("BEGIN ISOLATION LEVEL SERIALIZABLE", op="begin")
        else:
            await self.execute("BEGIN", op="begin")
        try:
            yield self
        except BaseException:
            if (
                not self.conn.closed
                and self.conn.info.transaction_status != psycopg.pq.TransactionStatus.ACTIVE
            ):
                with contextlib.suppress(psycopg.Error, DatabaseUnavailable):
                    await self.execute("ROLLBACK", op="rollback")
            raise
        await self.execute("COMMIT", op="commit")
