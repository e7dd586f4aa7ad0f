"""One concurrency test per safeguard, fired truly at once (asyncio.Barrier).

Each runs with its safeguard on (no anomaly in any trial) and off (the anomaly must appear within
a bounded number of trials): the "off" run is the proof that the test can catch the bug.

Both run with the same RACE_WINDOW_MS: on a loaded 2-core machine, requests released together can
reach the service a few milliseconds apart, and a sub-millisecond check-then-write gap then never
overlaps (CI once saw 20 clean trials with the lock off). The window makes the "off" proof reliable
and the "on" proof stronger: the safeguard must hold while every request sits inside the gap.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.integration.service_helpers import (
    Json,
    Stack,
    assert_error,
    auth,
    confirmed_order,
    create_order,
    fire_together,
    new_key,
    open_assignment,
    order_body,
    trials,
)

pytestmark = pytest.mark.integration
ON_OFF = pytest.mark.parametrize("guarded", [True, False], ids=["safeguard_on", "safeguard_off"])
MAX_TRIALS = 20
RACE_WINDOW_MS = 25.0
# 100 captures queue on one wallet lock, each holding it for the window: 25 ms would hold the
# last one for 2.5 s, past the pool's 2 s wait, and the test would measure pool starvation.
WALLET_RACE_WINDOW_MS = 2.0


def _stack(
    service_stack: Callable[..., Stack], guarded: bool, safeguard: str, window_ms: float = RACE_WINDOW_MS
) -> Stack:
    off = () if guarded else (safeguard,)
    return service_stack(*off, race_window_ms=window_ms)


@ON_OFF
def test_assignment_accepted_by_exactly_one_agent(service_stack: Callable[..., Stack], guarded: bool) -> None:
    stack = _stack(service_stack, guarded, "assignment_lock")
    agents = stack.users("AGENT")
    assert len(agents) >= 12
    admin, seller = stack.any("ADMIN"), stack.any("SELLER")
    buyer = stack.any("BUYER")
    anomaly = None
    with stack.client() as c:
        for trial in trials(guarded, MAX_TRIALS):
            order = confirmed_order(c, buyer, seller)
            assignment = open_assignment(c, admin, order["id"])
            url = f"/api/shipping/assignments/{assignment['id']}/accept"

            async def race(url: str = url) -> list[httpx.Response]:
                async with stack.async_client() as ac:
                    return await fire_together([ac.post(url, headers=auth(a)) for a in agents])

            responses = asyncio.run(race())
            winners = [r for r in responses if r.status_code == 200]
            events = stack.sql(
                "SELECT agent_id FROM shipping_assignment_events WHERE assignment_id = %s",
                (assignment["id"],),
            )
            if guarded:
                assert len(winners) == 1, [r.text for r in responses]
                for r in responses:
                    if r.status_code != 200:
                        assert_error(r, 409)
                        assert r.json()["code"] in ("ASSIGNMENT_LOCKED", "ASSIGNMENT_TAKEN")
                row = stack.sql(
                    "SELECT agent_id, status FROM shipping_assignments WHERE id = %s", (assignment["id"],)
                )
                assert str(row[0]["agent_id"]) == winners[0].json()["agentId"]
                assert len(events) == 1
            elif len(winners) > 1 or len(events) > 1:
                anomaly = (trial, len(winners), len(events))
                break
    if not guarded:
        assert anomaly is not None, f"no double acceptance in {MAX_TRIALS} trials with the lock off"


def _history_is_single_valid_path(stack: Stack, order_id: str) -> bool:
    steps = stack.sql(
        "SELECT from_status, to_status FROM order_status_history WHERE order_id = %s ORDER BY at, id",
        (order_id,),
    )
    allowed = {
        (None, "PENDING"),
        ("PENDING", "CONFIRMED"),
        ("PENDING", "CANCELLED"),
        ("CONFIRMED", "SHIPPING"),
        ("CONFIRMED", "CANCELLED"),
        ("SHIPPING", "DELIVERED"),
    }
    froms = [s["from_status"] for s in steps]
    chained = all(a["to_status"] == b["from_status"] for a, b in itertools.pairwise(steps))
    return (
        len(froms) == len(set(froms))
        and chained
        and all((s["from_status"], s["to_status"]) in allowed for s in steps)
    )


@ON_OFF
def test_concurrent_status_changes_keep_one_valid_path(
    service_stack: Callable[..., Stack], guarded: bool
) -> None:
    stack = _stack(service_stack, guarded, "order_status_lock")
    seller, buyer = stack.any("SELLER"), stack.any("BUYER", 1)
    targets = ["CONFIRMED", "CANCELLED", "CONFIRMED", "CANCELLED", "CONFIRMED"]
    anomaly = None
    with stack.client() as c:
        for trial in trials(guarded, MAX_TRIALS):
            order = create_order(c, buyer, seller)
            url = f"/api/orders/{order['id']}"

            async def race(url: str = url) -> list[httpx.Response]:
                async with stack.async_client() as ac:
                    calls = [ac.patch(url, headers=auth(seller), json={"status": t}) for t in targets]
                    return await fire_together(calls)

            responses = asyncio.run(race())
            valid = _history_is_single_valid_path(stack, order["id"])
            if guarded:
                assert valid, stack.sql(
                    "SELECT * FROM order_status_history WHERE order_id = %s", (order["id"],)
                )
                assert any(r.status_code == 200 for r in responses)
                for r in responses:
                    if r.status_code != 200:
                        body = assert_error(r, r.status_code)
                        assert body["code"] in ("INVALID_STATUS_TRANSITION", "ORDER_STATUS_CONFLICT"), body
                final = stack.sql("SELECT status FROM orders WHERE id = %s", (order["id"],))[0]["status"]
                last = stack.sql(
                    "SELECT to_status FROM order_status_history WHERE order_id = %s"
                    " ORDER BY at DESC, id DESC LIMIT 1",
                    (order["id"],),
                )[0]["to_status"]
                assert final == last
            elif not valid:
                anomaly = trial
                break
    if not guarded:
        assert anomaly is not None, f"history stayed a single path in {MAX_TRIALS} trials with the lock off"


@ON_OFF
def test_one_idempotency_key_makes_one_order(service_stack: Callable[..., Stack], guarded: bool) -> None:
    stack = _stack(service_stack, guarded, "idempotency")
    seller = stack.any("SELLER")
    buyer = stack.any("BUYER", 2)
    anomaly = None
    for trial in trials(guarded, MAX_TRIALS):
        key = new_key()
        body = order_body(seller)

        async def race(key: str = key, body: Json = body) -> list[httpx.Response]:
            async with stack.async_client() as ac:
                headers = auth(buyer) | {"Idempotency-Key": key}
                return await fire_together(
                    [ac.post("/api/orders", headers=headers, json=body) for _ in range(20)]
                )

        responses = asyncio.run(race())
        orders = stack.sql("SELECT id FROM orders WHERE idempotency_key = %s", (key,))
        if guarded:
            assert len(orders) == 1
            created = [r for r in responses if r.status_code == 201]
            assert created, [r.text for r in responses]
            assert {r.json()["id"] for r in created} == {str(orders[0]["id"])}
            fresh = [r for r in created if r.headers.get("Idempotent-Replayed") != "true"]
            assert len(fresh) == 1
            for r in responses:
                if r.status_code != 201:
                    assert_error(r, 409, "IDEMPOTENCY_KEY_IN_PROGRESS")
        elif len(orders) > 1:
            anomaly = (trial, len(orders))
            break
    if not guarded:
        assert anomaly is not None, f"never more than one order per key in {MAX_TRIALS} trials with it off"


def _prepare_payments(stack: Stack, buyer: Json, seller: Json, count: int, price: int) -> list[str]:
    async def make() -> list[str]:
        async with stack.async_client() as ac:
            sem = asyncio.Semaphore(10)

            async def one() -> str:
                async with sem:
                    r = await ac.post(
                        "/api/orders", headers=auth(buyer), json=order_body(seller, unit_price_cents=price)
                    )
                    assert r.status_code == 201, r.text
                    p = await ac.post("/api/payments", headers=auth(buyer), json={"orderId": r.json()["id"]})
                    assert p.status_code == 201, p.text
                    pid: str = p.json()["id"]
                    return pid

            return list(await asyncio.gather(*(one() for _ in range(count))))

    return asyncio.run(make())


@ON_OFF
def test_concurrent_captures_never_overdraw(service_stack: Callable[..., Stack], guarded: bool) -> None:
    stack = _stack(service_stack, guarded, "wallet_isolation", WALLET_RACE_WINDOW_MS)
    seller = stack.any("SELLER")
    captures, affordable = 100, 30
    anomaly: Any = None
    for trial in trials(guarded, 5):
        buyer = stack.claim("BUYER")
        with stack.client() as c:
            balance = c.get(f"/api/wallets/{buyer['walletId']}", headers=auth(buyer)).json()["balanceCents"]
        price = balance // affordable
        assert price * (affordable + 1) > balance
        payments = _prepare_payments(stack, buyer, seller, captures, price)

        async def race(payments: list[str] = payments, buyer: Json = buyer) -> list[httpx.Response]:
            async with stack.async_client() as ac:
                calls = [ac.post(f"/api/payments/{p}/capture", headers=auth(buyer)) for p in payments]
                return await fire_together(calls)

        responses = asyncio.run(race())
        final = stack.sql(
            "SELECT COALESCE(SUM(amount_cents), 0)::bigint AS b FROM ledger_entries WHERE wallet_id = %s",
            (buyer["walletId"],),
        )[0]["b"]
        captured = stack.sql(
            "SELECT count(*) AS n FROM payments WHERE id = ANY(%s::uuid[]) AND lifecycle = 'CAPTURED'",
            (payments,),
        )[0]["n"]
        total = stack.sql("SELECT COALESCE(SUM(amount_cents), 0)::bigint AS t FROM ledger_entries")[0]["t"]
        if guarded:
            statuses = sorted({r.status_code for r in responses})
            assert final >= 0
            assert total == 0
            assert captured == affordable, (captured, statuses)
            assert sum(r.status_code == 200 for r in responses) == affordable
            for r in responses:
                if r.status_code != 200:
                    assert_error(r, 400, "INSUFFICIENT_FUNDS")
            per_payment = stack.sql(
                """SELECT payment_id, count(*) AS n, SUM(amount_cents) AS s FROM ledger_entries
                   WHERE payment_id = ANY(%s::uuid[]) GROUP BY payment_id""",
                (payments,),
            )
            assert len(per_payment) == affordable
            assert all(row["n"] == 3 and row["s"] == 0 for row in per_payment)
            # captures take turns on the wallet with a session lock: none may outlive its capture
            held = stack.sql("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory'")[0]["n"]
            assert held == 0
        elif final < 0 or captured > affordable:
            anomaly = (trial, final, captured)
            break
    if not guarded:
        assert anomaly is not None, "no overdraft with wallet isolation off"
