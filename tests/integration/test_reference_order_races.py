"""The order races of docs/business-rules.md against the service, each with its rule on and broken.

Same shape as test_reference_races.py: on, 3 trials that must all keep the rule; broken (the
safeguard off where a seed shows the BEFORE code, else a deliberate defect), the anomaly must
appear within MAX_TRIALS. Winners are counted by the gate's own rule (reports.measures.race_winners)
from the same labels the Locust race uses (locustfiles/common/race_setup_orders.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reports.measures import race_winners
from tests.integration.service_helpers import (
    Json,
    Stack,
    auth,
    confirmed_order,
    create_order,
    fire_together,
    new_key,
    trials,
)
from tests.integration.test_reference_races import MAX_TRIALS, ON_OFF, RACE_WINDOW_MS

pytestmark = pytest.mark.integration


def _stack(service_stack: Callable[..., Stack], guarded: bool, off: str = "", defect: str = "") -> Stack:
    if guarded:
        return service_stack(race_window_ms=RACE_WINDOW_MS)
    offs = (off,) if off else ()
    return service_stack(*offs, race_window_ms=RACE_WINDOW_MS, defects=(defect,) if defect else ())


def _initiated(c: httpx.Client, buyer: Json, seller: Json, *, capture: bool, confirm: bool = False) -> Json:
    order = confirmed_order(c, buyer, seller) if confirm else create_order(c, buyer, seller)
    payment = c.post("/api/payments", headers=auth(buyer), json={"orderId": order["id"]})
    assert payment.status_code == 201, payment.text
    order["paymentId"] = payment.json()["id"]
    if capture:
        r = c.post(f"/api/payments/{order['paymentId']}/capture", headers=auth(buyer))
        assert r.status_code == 200, r.text
    return order


Spec = tuple[str, str, str, Json, Json | None]  # (actor label, method, path, user, JSON body)


def _fire(stack: Stack, specs: list[Spec]) -> list[Json]:
    """Fire every request at once (POSTs with their own Idempotency-Key); the participants' outcomes."""

    async def race() -> list[httpx.Response]:
        async with stack.async_client() as ac:
            requests = []
            for _, method, path, user, body in specs:
                headers = {**auth(user), "Idempotency-Key": new_key()} if method == "POST" else auth(user)
                requests.append(ac.request(method, path, headers=headers, json=body))
            return await fire_together(requests)

    responses = asyncio.run(race())
    for r in responses:
        assert r.status_code < 500, r.text
    return [{"actor": spec[0], "status": r.status_code} for spec, r in zip(specs, responses, strict=True)]


def _winners(kind: str, participants: Any) -> int:
    return race_winners({"kind": kind, "participants": participants})


def _refund_nets_zero(stack: Stack, payment_id: str) -> bool:
    rows = stack.sql(
        "SELECT wallet_id, SUM(amount_cents) AS net FROM ledger_entries"
        " WHERE payment_id = %s GROUP BY wallet_id",
        (payment_id,),
    )
    return all(r["net"] == 0 for r in rows)


@ON_OFF
def test_confirm_vs_cancel_one_cancel_wins(service_stack: Callable[..., Stack], guarded: bool) -> None:
    stack = _stack(service_stack, guarded, off="order_status_lock")
    buyer, seller = stack.any("BUYER", 8), stack.any("SELLER")
    anomaly = None
    with stack.client() as c:
        for trial in trials(guarded, MAX_TRIALS):
            order = _initiated(c, buyer, seller, capture=True)
            url = f"/api/orders/{order['id']}"
            calls: list[Spec] = [
                ("confirm#0", "PATCH", url, seller, {"status": "CONFIRMED"}),
                ("cancel#1", "PATCH", url, buyer, {"status": "CANCELLED"}),
                ("confirm#2", "PATCH", url, seller, {"status": "CONFIRMED"}),
                ("cancel#3", "PATCH", url, buyer, {"status": "CANCELLED"}),
            ]
            won = _winners("confirm_cancel", _fire(stack, calls))
            final = stack.sql("SELECT status FROM orders WHERE id = %s", (order["id"],))[0]["status"]
            if guarded:
                assert won == 1 and final == "CANCELLED"
                assert _refund_nets_zero(stack, order["paymentId"])
            elif won != 1 or final != "CANCELLED":
                anomaly = (trial, won, final)
                break
    if not guarded:
        assert anomaly is not None, f"one cancel won every one of {MAX_TRIALS} trials with the lock off"


@ON_OFF
def test_concurrent_captures_of_one_payment_one_wins(
    service_stack: Callable[..., Stack], guarded: bool
) -> None:
    stack = _stack(service_stack, guarded, defect="capture_unkeyed")
    buyer, seller = stack.claim("BUYER"), stack.any("SELLER")
    anomaly = None
    with stack.client() as c:
        for trial in trials(guarded, MAX_TRIALS):
            order = _initiated(c, buyer, seller, capture=False)
            url = f"/api/payments/{order['paymentId']}/capture"
            calls: list[Spec] = [(f"capture#{i}", "POST", url, buyer, None) for i in range(5)]
            won = _winners("payment_capture", _fire(stack, calls))
            debits = stack.sql(
                "SELECT count(*) AS n FROM ledger_entries"
                " WHERE payment_id = %s AND entry_type = 'BUYER_DEBIT'",
                (order["paymentId"],),
            )[0]["n"]
            if guarded:
                assert won == 1 and debits == 1, (won, debits)
            elif won > 1 or debits > 1:
                anomaly = (trial, won, debits)
                break
    if not guarded:
        assert anomaly is not None, f"one capture won every one of {MAX_TRIALS} trials with capture_unkeyed"


@ON_OFF
def test_cancel_vs_capture_keeps_no_money(service_stack: Callable[..., Stack], guarded: bool) -> None:
    stack = _stack(service_stack, guarded, defect="cancel_keeps_money")
    buyer, seller = stack.claim("BUYER"), stack.any("SELLER")
    anomaly = None
    with stack.client() as c:
        for trial in trials(guarded, MAX_TRIALS):
            order = _initiated(c, buyer, seller, capture=False, confirm=True)
            capture, cancel = f"/api/payments/{order['paymentId']}/capture", f"/api/orders/{order['id']}"
            calls: list[Spec] = [
                ("cancel#0", "PATCH", cancel, buyer, {"status": "CANCELLED"}),
                ("capture#1", "POST", capture, buyer, None),
                ("cancel#2", "PATCH", cancel, buyer, {"status": "CANCELLED"}),
                ("capture#3", "POST", capture, buyer, None),
            ]
            won = _winners("cancel_capture", _fire(stack, calls))
            nets_zero = _refund_nets_zero(stack, order["paymentId"])
            if guarded:
                assert won == 1 and nets_zero, (won, nets_zero)
            elif not nets_zero:
                anomaly = trial
                break
    if not guarded:
        assert anomaly is not None, (
            f"no cancelled order kept money in {MAX_TRIALS} trials with cancel_keeps_money"
        )


@ON_OFF
def test_two_openers_one_assignment(service_stack: Callable[..., Stack], guarded: bool) -> None:
    stack = _stack(service_stack, guarded, off="assignment_lock")
    buyer, seller, admin = stack.any("BUYER", 9), stack.any("SELLER"), stack.any("ADMIN")
    anomaly = None
    with stack.client() as c:
        for trial in trials(guarded, MAX_TRIALS):
            order = _initiated(c, buyer, seller, capture=True, confirm=True)
            body = {"orderId": order["id"]}
            calls: list[Spec] = [
                (f"open#{i}", "POST", "/api/shipping/assignments", seller if i % 2 == 0 else admin, body)
                for i in range(4)
            ]
            won = _winners("assignment_open", _fire(stack, calls))
            if guarded:
                assert won == 1, won
            elif won > 1:
                anomaly = (trial, won)
                break
    if not guarded:
        assert anomaly is not None, f"one opener won every one of {MAX_TRIALS} trials with the lock off"
