"""Helpers for the reference-service tests: a running stack, users by role, common API calls."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from psycopg.rows import dict_row

from harness.locust_runner import LocustProcesses
from harness.service_process import ServiceProcess

Json = dict[str, Any]


@dataclass
class Stack:
    """A running service, its database and its seeded users."""

    database_url: str
    service: ServiceProcess
    fixtures: Json
    log_file: Path
    _claimed: set[str] = field(default_factory=set)

    @property
    def base_url(self) -> str:
        return self.service.base_url

    def users(self, role: str) -> list[Json]:
        return [u for u in self.fixtures["users"] if u["role"] == role]

    def any(self, role: str, index: int = 0) -> Json:
        """A shared user of `role` (fine for tests that do not care about its balance)."""
        return self.users(role)[index]

    def claim(self, role: str) -> Json:
        """A user of `role` no other test has claimed (a buyer with an untouched wallet)."""
        for user in reversed(self.users(role)):
            if user["id"] not in self._claimed:
                self._claimed.add(user["id"])
                return user
        raise RuntimeError(f"no unclaimed {role} left; seed more")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=15.0)

    def async_client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
        return httpx.AsyncClient(base_url=self.base_url, timeout=30.0, limits=limits)

    def sql(self, query: str, params: Any = None) -> list[Json]:
        with psycopg.connect(self.database_url, row_factory=dict_row, autocommit=True) as conn:
            return conn.execute(query.encode(), params).fetchall()

    def log_events(self, event: str) -> list[Json]:
        if not self.log_file.exists():
            return []
        lines = self.log_file.read_bytes().splitlines()
        return [rec for rec in map(orjson.loads, lines) if rec.get("event") == event]


def auth(user: Json) -> dict[str, str]:
    return {"Authorization": f"Bearer {user['token']}"}


def order_body(
    seller: Json, *, quantity: int = 1, unit_price_cents: int = 1000, zip_code: str = "10001"
) -> Json:
    return {
        "sellerId": seller["id"],
        "items": [{"sku": "SKU-1", "quantity": quantity, "unitPriceCents": unit_price_cents}],
        "shippingZip": zip_code,
    }


def create_order(c: httpx.Client, buyer: Json, seller: Json, **kw: Any) -> Json:
    r = c.post("/api/orders", headers=auth(buyer), json=order_body(seller, **kw))
    assert r.status_code == 201, r.text
    body: Json = r.json()
    return body


def confirmed_order(c: httpx.Client, buyer: Json, seller: Json) -> Json:
    order = create_order(c, buyer, seller)
    r = c.patch(f"/api/orders/{order['id']}", headers=auth(seller), json={"status": "CONFIRMED"})
    assert r.status_code == 200, r.text
    body: Json = r.json()
    return body


def paid_order(c: httpx.Client, buyer: Json, seller: Json) -> Json:
    """A confirmed order whose payment is captured: only such an order ships (docs/business-rules.md)."""
    order = confirmed_order(c, buyer, seller)
    r = c.post("/api/payments", headers=auth(buyer), json={"orderId": order["id"]})
    assert r.status_code == 201, r.text
    r = c.post(f"/api/payments/{r.json()['id']}/capture", headers=auth(buyer))
    assert r.status_code == 200, r.text
    return order


def open_assignment(c: httpx.Client, admin: Json, order_id: str) -> Json:
    r = c.post("/api/shipping/assignments", headers=auth(admin), json={"orderId": order_id})
    assert r.status_code == 201, r.text
    body: Json = r.json()
    return body


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> Json:
    """The seeds' error body, with the expected status and code."""
    assert r.status_code == status, r.text
    body: Json = r.json()
    for key in ("statusCode", "error", "message", "code", "timestamp", "path"):
        assert key in body, f"{key} missing from {body}"
    assert body["statusCode"] == status
    assert body["path"] == r.request.url.path
    if code is not None:
        assert body["code"] == code, body
    return body


async def fire_together(requests: Sequence[Awaitable[httpx.Response]]) -> list[httpx.Response]:
    """Release every (not yet started) request at the same instant through an asyncio.Barrier."""
    barrier = asyncio.Barrier(len(requests))

    async def one(request: Awaitable[httpx.Response]) -> httpx.Response:
        await barrier.wait()
        return await request

    return list(await asyncio.gather(*(one(r) for r in requests)))


def poll_until(check: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def new_key() -> str:
    return f"test-{uuid.uuid4()}"


def trials(guarded: bool, max_trials: int) -> Iterator[int]:
    """On: 3 trials that must all be clean. Off: up to `max_trials`; the caller stops at the first anomaly."""
    return iter(range(3 if guarded else max_trials))


def run_locust_plan(
    base_url: str, fixtures: Path, plan: Mapping[str, Any], run_dir: Path, workers: int = 0
) -> None:
    """Run real Locust on `plan` (written to run_dir/plan.json) until it stops by itself; fail if it
    does not stop within the plan's duration + 40 s or any Locust process exits non-zero."""
    run_dir.mkdir(parents=True, exist_ok=True)
    plan_path = run_dir / "plan.json"
    plan_path.write_text(json.dumps(plan))
    # stop_timeout_s as an int: Locust rejects "5.0" for --stop-timeout.
    locust = LocustProcesses(base_url, run_dir, plan_path, fixtures, workers=workers, stop_timeout_s=5)
    locust.start()
    try:
        deadline = time.monotonic() + float(plan["duration_s"]) + 40
        while locust.running() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not locust.running(), "Locust did not stop by itself at the end of the plan"
    finally:
        exits = locust.stop()
    assert all(e["exit_code"] == 0 for e in exits), (exits, (run_dir / "locust.log").read_text()[-3000:])
