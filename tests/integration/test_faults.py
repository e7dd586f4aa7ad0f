"""Each fault does what it says, seen from outside: by the service's health endpoints and by SQL.

The process faults need a PostgreSQL of their own (they stop and kill it), so this module starts
one, migrates and seeds a database on it, and runs the real service against it with short
timeouts (query timeout 2 s, pool timeout 1 s) so a fault shows within seconds.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from harness.db.base import recreate_database, with_database
from harness.db.embedded import EmbeddedPostgres
from harness.faults import FaultContext, FaultFailed, FaultProxy, FaultScheduler, injector
from harness.processes import spawn, wait_until
from harness.service_process import ServiceProcess
from reference_service.seed import seed

pytestmark = pytest.mark.integration

SERVICE_ENV = {
    "STATEMENT_TIMEOUT_MS": "1000",
    "POOL_TIMEOUT_S": "1",
    "POOL_MIN_SIZE": "2",
    "POOL_MAX_SIZE": "5",
}
DEADLINE_S = 20.0


@dataclass
class Rig:
    pg: EmbeddedPostgres
    url: str
    service: ServiceProcess

    def context(self) -> FaultContext:
        return FaultContext(pg=self.pg, service=self.service, database_url=self.url)


def seeded_service(admin_url: str, folder: Path) -> tuple[str, ServiceProcess]:
    """A seeded `shop` database on the server of `admin_url`, and a started service with SERVICE_ENV."""
    recreate_database(admin_url, "shop")
    url = with_database(admin_url, "shop")
    seed(url, buyers=4, sellers=1, agents=2, admins=1)
    service = ServiceProcess(
        url, log_file=folder / "service.jsonl", output_file=folder / "service.log", env=SERVICE_ENV
    )
    service.start(timeout_s=30)
    return url, service


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    folder = Path(tmp_path_factory.mktemp("faults"))
    pg = EmbeddedPostgres(folder / "data", fsync=False)
    pg.start()
    service: ServiceProcess | None = None
    try:
        url, service = seeded_service(pg.url, folder)
        yield Rig(pg, url, service)
    finally:
        if service is not None:
            service.stop()
        pg.destroy()


def _status(base_url: str, path: str) -> int:
    try:
        return httpx.get(f"{base_url}{path}", timeout=5.0).status_code
    except httpx.HTTPError:
        return 0


def _until(predicate: Callable[[], bool], what: str, timeout_s: float = DEADLINE_S) -> None:
    assert wait_until(predicate, timeout_s=timeout_s, interval_s=0.1), f"not within {timeout_s:g}s: {what}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def _healthy(rig: Rig) -> None:
    _until(lambda: _status(rig.service.base_url, "/health/db") == 200, "/health/db 200")


def test_db_pause_makes_health_db_503_while_live_stays_200(rig: Rig) -> None:
    _healthy(rig)
    fault = injector({"kind": "db_pause", "start_s": 0, "duration_s": 1}, rig.context())
    try:
        fault.apply()
        _until(lambda: _status(rig.service.base_url, "/health/db") == 503, "/health/db 503 while paused")
        assert _status(rig.service.base_url, "/health/live") == 200
    finally:
        fault.revert()
    _healthy(rig)


# Query timeout of SERVICE_ENV: statement_timeout 1 s + the service's 1 s client-side margin.
QUERY_TIMEOUT_S = 2.0


def test_db_pause_first_request_answers_503_within_the_query_timeout(rig: Rig) -> None:
    """Was ~12 s: cancelling the abandoned query held the connection's lock (db.py `_abandon`)."""
    _healthy(rig)
    fault = injector({"kind": "db_pause", "start_s": 0, "duration_s": 1}, rig.context())
    try:
        fault.apply()
        start = time.monotonic()
        response = httpx.get(f"{rig.service.base_url}/health/db", timeout=30.0)
        took = time.monotonic() - start
    finally:
        fault.revert()
    _healthy(rig)
    assert response.status_code == 503
    assert took < QUERY_TIMEOUT_S + 1.5, f"503 after {took:.1f}s"


def test_db_latency_through_a_proxy_started_before_the_service(rig: Rig, tmp_path: Path) -> None:
    """The runner's wiring: proxy first, the service's DATABASE_URL through it, then the toxic."""
    proxy = FaultProxy.for_url(rig.url)
    proxy.start()
    service = ServiceProcess(
        proxy.url(rig.url), log_file=tmp_path / "s.jsonl", output_file=tmp_path / "s.log", env=SERVICE_ENV
    )
    try:
        service.start(timeout_s=30)
        _until(lambda: _status(service.base_url, "/health/db") == 200, "200 through the proxy")
        assert proxy.connections >= 1
        context = FaultContext(pg=rig.pg, service=service, database_url=rig.url, proxy=proxy)
        fault = injector(
            {"kind": "db_latency", "start_s": 0, "duration_s": 1, "params": {"reset_peer": True}}, context
        )
        try:
            fault.apply()
            _until(lambda: _status(service.base_url, "/health/db") == 503, "503 while connections are reset")
            assert _status(service.base_url, "/health/live") == 200
        finally:
            fault.revert()
        _until(lambda: _status(service.base_url, "/health/db") == 200, "200 after the toxic is cleared")
    finally:
        service.stop()
        proxy.stop()


@pytest.mark.parametrize("kind", ["db_restart", "db_crash"])
def test_db_restart_and_crash_503_then_recovery_without_service_restart(
    rig: Rig, kind: str, tmp_path: Path
) -> None:
    _healthy(rig)
    service_pid, pg_pid = rig.service.pid, rig.pg.pid
    faults_path = tmp_path / "faults.jsonl"
    spec = {"kind": kind, "start_s": 0.0, "duration_s": 2.0, "target": "postgres", "params": {}}
    scheduler = FaultScheduler([spec], rig.context(), faults_path, t0=time.time())
    scheduler.start()
    try:
        _until(lambda: scheduler.active() == [kind], f"{kind} in force")
        _until(lambda: _status(rig.service.base_url, "/health/db") == 503, f"503 during {kind}")
        # The restart runs on the scheduler's thread, which ends once the fault is reverted.
        _until(lambda: faults_path.exists(), "faults.jsonl line written")
    finally:
        scheduler.stop()
    assert scheduler.errors == []
    assert rig.pg.pid is not None and rig.pg.pid != pg_pid
    _healthy(rig)
    assert rig.service.pid == service_pid, "the service recovered by itself, not by a restart"
    assert _alive(rig.pg.pid), "the restarted postmaster outlived the scheduler thread"
    line = json.loads(faults_path.read_text().splitlines()[0])
    assert line["kind"] == kind and line["outcome"] == "applied" and line["target"] == "postgres"
    assert line["end"] - line["start"] >= 2.0


def test_a_child_spawned_from_a_short_thread_dies_with_it_so_restarts_need_the_keeper(tmp_path: Path) -> None:
    """The hazard the keeper thread exists for is real here (else the next test proves nothing)."""
    procs = []
    thread = threading.Thread(target=lambda: procs.append(spawn(["sleep", "60"])))
    thread.start()
    thread.join()
    try:
        _until(lambda: procs[0].poll() is not None, "PDEATHSIG killed the child of the ended thread", 5)
    finally:
        procs[0].kill()
        procs[0].wait()


def test_postgres_restarted_from_a_short_lived_thread_keeps_running(rig: Rig) -> None:
    fault = injector({"kind": "db_crash", "start_s": 0, "duration_s": 1}, rig.context())

    def crash_and_restart() -> None:
        try:
            fault.apply()
        finally:
            fault.revert()

    thread = threading.Thread(target=crash_and_restart)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    pid = rig.pg.pid
    assert pid is not None
    # PDEATHSIG would fire at once; give it the time the control test above needed, then some.
    assert not wait_until(lambda: not _alive(pid), timeout_s=1.5), "postmaster died with the thread"
    with psycopg.connect(rig.url, connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    _healthy(rig)


def test_service_crash_gives_a_new_pid_that_answers(rig: Rig) -> None:
    old = rig.service.pid
    assert old is not None
    fault = injector({"kind": "service_crash", "start_s": 0, "duration_s": 1}, rig.context())
    try:
        fault.apply()
        assert not _alive(old)
        assert _status(rig.service.base_url, "/health/live") == 0
    finally:
        thread = threading.Thread(target=fault.revert)
        thread.start()
        thread.join(60)
    new = rig.service.pid
    assert new is not None and new != old
    assert not wait_until(lambda: not _alive(new), timeout_s=1.0), "service died with the reverting thread"
    assert _status(rig.service.base_url, "/health/live") == 200
    _healthy(rig)


def test_pool_exhaustion_refuses_new_connections_until_reverted(rig: Rig) -> None:
    with psycopg.connect(rig.url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_setting('max_connections')::int"
            " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int"
        ).fetchone()
    assert row is not None
    free = int(row[0]) + 1  # every slot, the superuser-reserved ones included (we are superuser)
    spec = {"kind": "pool_exhaustion", "start_s": 0, "duration_s": 1, "params": {"connections": free}}
    fault = injector(spec, rig.context())
    try:
        detail = fault.apply()
        assert "holding" in detail
        with pytest.raises(psycopg.OperationalError) as refused:
            psycopg.connect(rig.url, connect_timeout=5).close()
        assert "too many clients" in str(refused.value) or "reserved" in str(refused.value)
    finally:
        fault.revert()
    psycopg.connect(rig.url, connect_timeout=5).close()


def test_pool_exhaustion_gives_503_to_a_service_that_needs_a_connection(rig: Rig, tmp_path: Path) -> None:
    """A service (re)started while the database is full cannot get a connection: 503, then recovery."""
    fault = injector({"kind": "pool_exhaustion", "start_s": 0, "duration_s": 1}, rig.context())
    service = ServiceProcess(
        rig.url, log_file=tmp_path / "s.jsonl", output_file=tmp_path / "s.log", env=SERVICE_ENV
    )
    # Default size: every slot but the superuser-reserved ones, which the superuser service can
    # still take; so the test, as the "other tenant", takes those too, and any slot another session
    # frees while we wait (else the service could get it, and the test would pass or fail by luck).
    extra: list[psycopg.Connection[Any]] = []

    def take_every_free_slot() -> None:
        while True:
            try:
                extra.append(psycopg.connect(rig.url, connect_timeout=5))
            except psycopg.OperationalError:
                return

    def full_and_refused() -> bool:
        take_every_free_slot()
        return _status(service.base_url, "/health/db") == 503

    try:
        try:
            fault.apply()
            take_every_free_slot()
            service.start(timeout_s=30)
            _until(full_and_refused, "503 with no free connection")
            assert _status(service.base_url, "/health/live") == 200
        finally:
            for conn in extra:
                conn.close()
            fault.revert()
        _until(lambda: _status(service.base_url, "/health/db") == 200, "200 once connections are released")
    finally:
        service.stop()


def test_lock_hold_blocks_for_update_nowait_with_55p03(rig: Rig) -> None:
    spec = {"kind": "lock_hold", "start_s": 0, "duration_s": 1, "params": {"table": "wallets", "limit": 3}}
    fault = injector(spec, rig.context())
    nowait = "SELECT 1 FROM wallets FOR UPDATE NOWAIT"
    try:
        assert "3 rows" in fault.apply()
        with psycopg.connect(rig.url) as conn, pytest.raises(psycopg.errors.LockNotAvailable) as blocked:
            conn.execute(nowait)
        assert blocked.value.sqlstate == "55P03"
    finally:
        fault.revert()
    with psycopg.connect(rig.url) as conn:
        assert conn.execute(nowait).fetchall()


def test_lock_hold_on_no_rows_is_a_failure_not_a_no_op(rig: Rig) -> None:
    spec = {
        "kind": "lock_hold",
        "start_s": 0,
        "duration_s": 1,
        "params": {"table": "wallets", "where": "false"},
    }
    fault = injector(spec, rig.context())
    try:
        with pytest.raises(FaultFailed, match="no row of wallets"):
            fault.apply()
    finally:
        fault.revert()


def test_process_faults_without_embedded_postgres_fail_loudly(rig: Rig) -> None:
    with pytest.raises(FaultFailed, match="no embedded PostgreSQL"):
        injector({"kind": "db_pause", "start_s": 0, "duration_s": 1}, FaultContext(database_url=rig.url))
