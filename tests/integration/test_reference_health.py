"""Health endpoints, real pool numbers, bounded 503s, and reconnection after a database restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest

from harness.db.embedded import EmbeddedPostgres
from harness.service_process import ServiceProcess
from reference_service.seed import seed
from tests.integration.service_helpers import Stack, assert_error, auth, create_order, poll_until

pytestmark = pytest.mark.integration


def test_health_endpoints_need_no_auth_and_report_real_numbers(service_stack: Callable[..., Stack]) -> None:
    stack = service_stack()
    with stack.client() as c:
        live = c.get("/health/live").json()
        assert live["status"] == "alive" and live["safeguardsOff"] == []
        assert c.get("/health/ready").status_code == 200
        db = c.get("/health/db").json()
        assert db["status"] == "healthy" and db["latencyMs"] >= 0 and db["timestamp"]
        pool = c.get("/health/pool").json()
    stats = pool["pool"]
    assert set(stats) == {"size", "active", "idle", "waiting", "max", "utilization"}
    assert stats["max"] == 20 and 10 <= stats["size"] <= 20
    assert stats["active"] + stats["idle"] == stats["size"] and stats["waiting"] == 0
    assert 0 <= stats["utilization"] <= 1


def test_live_lists_the_safeguards_that_are_off(service_stack: Callable[..., Stack]) -> None:
    stack = service_stack("idempotency")
    with stack.client() as c:
        assert c.get("/health/live").json()["safeguardsOff"] == ["idempotency"]


def test_saturated_pool_and_stuck_database_give_bounded_503(
    make_database: Callable[[], str], tmp_path: Path
) -> None:
    url = make_database()
    env = {
        "POOL_MIN_SIZE": "1",
        "POOL_MAX_SIZE": "1",
        "POOL_TIMEOUT_S": "0.5",
        "STATEMENT_TIMEOUT_MS": "1500",
    }
    service = ServiceProcess(url, log_file=tmp_path / "s.jsonl", output_file=tmp_path / "s.log", env=env)
    fixtures = seed(
        url,
        buyers=1,
        sellers=1,
        agents=1,
        admins=1,
        balance_cents=1_000_000,
        token_secret=service.token_secret,
    )
    buyer = next(u for u in fixtures["users"] if u["role"] == "BUYER")
    seller = next(u for u in fixtures["users"] if u["role"] == "SELLER")
    with service, httpx.Client(base_url=service.base_url, timeout=10) as c:
        order = create_order(c, buyer, seller)
        payment = c.post("/api/payments", headers=auth(buyer), json={"orderId": order["id"]}).json()
        holder = psycopg.connect(url)
        try:
            # Hold the buyer's wallet row: a capture waits on it, holding the pool's only connection.
            holder.execute("SELECT id FROM wallets WHERE id = %s FOR UPDATE", (buyer["walletId"],))
            results: dict[str, httpx.Response] = {}
            stuck = threading.Thread(
                target=lambda: results.setdefault(
                    "capture", c.post(f"/api/payments/{payment['id']}/capture", headers=auth(buyer))
                )
            )
            stuck.start()
            poll_until(
                lambda: c.get("/health/pool").json()["pool"]["idle"] == 0, timeout_s=5, what="pool in use"
            )
            started = time.monotonic()
            r = c.get("/health/db")
            assert time.monotonic() - started < 2.0
            assert r.status_code == 503 and r.headers["Retry-After"]
            assert_error(r, 503, "DATABASE_UNAVAILABLE")
            stuck.join(timeout=10)
            capture = results["capture"]
            assert_error(capture, 503, "DATABASE_UNAVAILABLE")
            assert capture.headers["Retry-After"]
        finally:
            holder.close()
        poll_until(lambda: c.get("/health/db").status_code == 200, timeout_s=10, what="recovery")


def test_service_reconnects_after_a_database_restart(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "pgdata", fsync=False)
    pg.start()
    try:
        env = {"POOL_MIN_SIZE": "2", "POOL_MAX_SIZE": "4"}
        service = ServiceProcess(
            pg.url, log_file=tmp_path / "s.jsonl", output_file=tmp_path / "s.log", env=env
        )
        fixtures = seed(
            pg.url,
            buyers=1,
            sellers=1,
            agents=1,
            admins=1,
            balance_cents=100,
            token_secret=service.token_secret,
        )
        buyer = next(u for u in fixtures["users"] if u["role"] == "BUYER")
        with service, httpx.Client(base_url=service.base_url, timeout=10) as c:
            assert c.get("/health/db").status_code == 200
            pg.stop(mode="immediate")
            started = time.monotonic()
            down = c.get("/health/db")
            assert down.status_code == 503 and time.monotonic() - started < 8
            assert c.get("/health/live").status_code == 200
            pg.start()

            def wallet_ok() -> bool:
                return c.get(f"/api/wallets/{buyer['walletId']}", headers=auth(buyer)).status_code == 200

            poll_until(wallet_ok, timeout_s=20, what="the service to reconnect")
            assert c.get("/health/db").status_code == 200
    finally:
        pg.destroy()
