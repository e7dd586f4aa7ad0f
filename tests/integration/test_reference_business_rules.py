"""The business rules of docs/business-rules.md on a real service (issue 11 item 1).

Before this change each of these was accepted: a captured order cancelled kept the money, one
order took several live assignments, and an unpaid order could be shipped and delivered.
"""

from __future__ import annotations

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
    open_assignment,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(service_stack: Callable[..., Stack]) -> Stack:
    return service_stack()


def _pay(c: httpx.Client, buyer: Json, order: Json) -> Json:
    payment: Json = c.post("/api/payments", headers=auth(buyer), json={"orderId": order["id"]}).json()
    r = c.post(f"/api/payments/{payment['id']}/capture", headers=auth(buyer))
    assert r.status_code == 200, r.text
    return payment


def _balance(c: httpx.Client, admin: Json, wallet_id: str) -> int:
    return int(c.get(f"/api/wallets/{wallet_id}", headers=auth(admin)).json()["balanceCents"])


def _cancel(c: httpx.Client, user: Json, order_id: str) -> httpx.Response:
    return c.patch(f"/api/orders/{order_id}", headers=auth(user), json={"status": "CANCELLED"})


def test_cancelling_a_captured_order_refunds_it_exactly_once(stack: Stack) -> None:
    buyer, seller, admin = stack.claim("BUYER"), stack.users("SELLER")[1], stack.any("ADMIN")
    platform = stack.fixtures["platformWalletId"]
    with stack.client() as c:
        before = {w: _balance(c, admin, w) for w in (buyer["walletId"], seller["walletId"], platform)}
        order = confirmed_order(c, buyer, seller)
        payment = _pay(c, buyer, order)
        assert _balance(c, admin, buyer["walletId"]) == before[buyer["walletId"]] - order["totalCents"]
        r = _cancel(c, buyer, order["id"])
        assert r.status_code == 200 and r.json()["status"] == "CANCELLED", r.text
        assert_error(_cancel(c, admin, order["id"]), 400, "INVALID_STATUS_TRANSITION")
        after = {w: _balance(c, admin, w) for w in before}
        shown = c.get(f"/api/orders/{order['id']}", headers=auth(buyer)).json()
    assert after == before, "buyer, seller and platform each net to zero"
    assert shown["payment"]["lifecycle"] == "REFUNDED"
    entries = stack.sql(
        "SELECT entry_type, amount_cents FROM ledger_entries WHERE payment_id = %s", (payment["id"],)
    )
    kinds = sorted(e["entry_type"] for e in entries)
    captured = ["BUYER_DEBIT", "SELLER_CREDIT", "PLATFORM_FEE_CREDIT"]
    reversed_ = ["BUYER_REFUND_CREDIT", "SELLER_REFUND_DEBIT", "PLATFORM_FEE_REFUND_DEBIT"]
    assert kinds == sorted([*captured, *reversed_])
    assert sum(e["amount_cents"] for e in entries) == 0


def test_cancelling_before_capture_voids_the_payment(stack: Stack) -> None:
    buyer, seller = stack.claim("BUYER"), stack.any("SELLER")
    with stack.client() as c:
        order = confirmed_order(c, buyer, seller)
        payment = c.post("/api/payments", headers=auth(buyer), json={"orderId": order["id"]}).json()
        assert _cancel(c, seller, order["id"]).status_code == 200
        r = c.post(f"/api/payments/{payment['id']}/capture", headers=auth(buyer))
        assert_error(r, 400, "INVALID_ORDER_STATE")
    assert stack.sql("SELECT lifecycle FROM payments WHERE id = %s", (payment["id"],)) == [
        {"lifecycle": "CANCELLED"}
    ]


def _shipping_order(c: httpx.Client, stack: Stack, buyer: Json) -> tuple[Json, Json, Json]:
    seller, admin, agent = stack.any("SELLER"), stack.any("ADMIN"), stack.any("AGENT", 5)
    order = confirmed_order(c, buyer, seller)
    _pay(c, buyer, order)
    assignment = open_assignment(c, admin, order["id"])
    for step in ("accept", "pickup"):
        r = c.post(f"/api/shipping/assignments/{assignment['id']}/{step}", headers=auth(agent))
        assert r.status_code == 200, r.text
    return order, assignment, agent


def test_no_cancellation_after_shipping(stack: Stack) -> None:
    buyer, admin = stack.claim("BUYER"), stack.any("ADMIN")
    with stack.client() as c:
        order, _, _ = _shipping_order(c, stack, buyer)
        for who in (buyer, admin):
            error = assert_error(_cancel(c, who, order["id"]), 400, "ORDER_CANNOT_CANCEL_AFTER_SHIPPING")
            assert error["details"]["ruleViolated"] == "ORDER_CANCELLATION_WINDOW_EXPIRED"
            assert error["details"]["context"]["currentStatus"] == "SHIPPING"


def test_one_live_assignment_per_order(stack: Stack) -> None:
    buyer, seller, admin = stack.claim("BUYER"), stack.any("SELLER"), stack.any("ADMIN")
    with stack.client() as c:
        order = confirmed_order(c, buyer, seller)
        first = open_assignment(c, admin, order["id"])
        r = c.post("/api/shipping/assignments", headers=auth(seller), json={"orderId": order["id"]})
        error = assert_error(r, 409, "ASSIGNMENT_EXISTS")
        assert error["details"]["assignmentId"] == first["id"]
        # a cancelled order's assignment is cancelled with it, and no new one can be opened
        assert _cancel(c, buyer, order["id"]).status_code == 200
        shown = c.get(f"/api/orders/{order['id']}", headers=auth(buyer)).json()
        assert [a["status"] for a in shown["shippingAssignments"]] == ["CANCELLED"]
        r = c.post("/api/shipping/assignments", headers=auth(admin), json={"orderId": order["id"]})
        assert_error(r, 400, "INVALID_ORDER_STATE")


def test_nothing_ships_or_is_delivered_unpaid(stack: Stack) -> None:
    buyer, seller, admin = stack.claim("BUYER"), stack.any("SELLER"), stack.any("ADMIN")
    agent = stack.any("AGENT", 6)
    with stack.client() as c:
        order = confirmed_order(c, buyer, seller)
        for who in (seller, admin):
            r = c.patch(f"/api/orders/{order['id']}", headers=auth(who), json={"status": "SHIPPING"})
            error = assert_error(r, 400, "ORDER_NOT_PAID")
            assert error["details"]["paymentLifecycle"] is None
        assignment = open_assignment(c, admin, order["id"])
        assert c.post(f"/api/shipping/assignments/{assignment['id']}/accept", headers=auth(agent)).is_success
        r = c.post(f"/api/shipping/assignments/{assignment['id']}/pickup", headers=auth(agent))
        assert_error(r, 400, "ORDER_NOT_PAID")
        shown: dict[str, Any] = c.get(f"/api/orders/{order['id']}", headers=auth(admin)).json()
    assert shown["status"] == "CONFIRMED"
    assert [a["status"] for a in shown["shippingAssignments"]] == ["ACCEPTED"], "the pickup rolled back"


def test_a_seller_does_not_mark_its_own_order_delivered(stack: Stack) -> None:
    buyer, seller = stack.claim("BUYER"), stack.any("SELLER")
    with stack.client() as c:
        order, _, _ = _shipping_order(c, stack, buyer)
        r = c.patch(f"/api/orders/{order['id']}", headers=auth(seller), json={"status": "DELIVERED"})
        assert_error(r, 403, "FORBIDDEN")
