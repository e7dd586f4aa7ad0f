"""Every flow and error code of API.md against the real service process."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.service_helpers import (
    Stack,
    assert_error,
    auth,
    confirmed_order,
    create_order,
    new_key,
    open_assignment,
    order_body,
    paid_order,
    poll_until,
)

pytestmark = pytest.mark.integration
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def stack(service_stack: Callable[..., Stack]) -> Stack:
    return service_stack()


def test_login_returns_a_working_token_and_rejects_bad_credentials(stack: Stack) -> None:
    buyer = stack.any("BUYER")
    with stack.client() as c:
        r = c.post("/api/auth/login", json={"email": buyer["email"], "password": buyer["password"]})
        assert r.status_code == 200
        body = r.json()
        assert body["user"] == {"id": buyer["id"], "role": "BUYER", "walletId": buyer["walletId"]}
        me = c.get(
            f"/api/wallets/{buyer['walletId']}", headers={"Authorization": f"Bearer {body['accessToken']}"}
        )
        assert me.status_code == 200
        assert_error(c.post("/api/auth/login", json={"email": buyer["email"], "password": "nope"}), 401)
        assert_error(c.post("/api/auth/login", json={"email": "x@y.z", "password": "nope"}), 401)
        assert_error(c.post("/api/auth/login", json={"email": buyer["email"]}), 400, "VALIDATION_ERROR")


def test_missing_or_bad_tokens_are_401_and_wrong_roles_403(stack: Stack) -> None:
    buyer, agent, seller = stack.any("BUYER"), stack.any("AGENT"), stack.any("SELLER")
    with stack.client() as c:
        assert_error(c.post("/api/orders", json=order_body(seller)), 401, "UNAUTHORIZED")
        forged = {"Authorization": "Bearer " + buyer["token"][:-3] + "AAA"}
        assert_error(c.post("/api/orders", headers=forged, json=order_body(seller)), 401, "UNAUTHORIZED")
        assert_error(c.get("/api/orders/" + MISSING, headers={"Authorization": "Basic abc"}), 401)
        assert_error(c.post("/api/orders", headers=auth(agent), json=order_body(seller)), 403, "FORBIDDEN")
        assert_error(c.get("/api/admin/agents/leaderboard", headers=auth(buyer)), 403, "FORBIDDEN")
        assert_error(
            c.post(f"/api/wallets/{buyer['walletId']}/top-up", headers=auth(buyer), json={"amountCents": 5}),
            403,
        )
        assert_error(c.get("/api/shipping/assignments", headers=auth(buyer)), 403)


def test_bad_input_is_400_with_validation_errors_never_500(stack: Stack) -> None:
    buyer, seller = stack.any("BUYER"), stack.any("SELLER")
    h = auth(buyer)
    cases = [
        {"content": b"{not json", "headers": h | {"Content-Type": "application/json"}},
        {"json": {"items": [], "shippingZip": "10001"}, "headers": h},
        {"json": order_body(seller, quantity=-1), "headers": h},
        {
            "json": {**order_body(seller), "items": [{"sku": "a", "quantity": "2", "unitPriceCents": 1}]},
            "headers": h,
        },
        {"json": {**order_body(seller), "sellerId": "not-a-uuid"}, "headers": h},
        {"json": [1, 2], "headers": h},
    ]
    with stack.client() as c:
        for case in cases:
            r = c.post("/api/orders", **case)  # type: ignore[arg-type]
            body = assert_error(r, 400, "VALIDATION_ERROR")
            assert body["validationErrors"], body
            assert all(set(e) == {"field", "message"} for e in body["validationErrors"])
        fields = {e["field"] for e in c.post("/api/orders", headers=h, json={}).json()["validationErrors"]}
        assert {"sellerId", "items", "shippingZip"} <= fields
        assert_error(c.get("/api/orders/not-a-uuid", headers=h), 400, "VALIDATION_ERROR")
        assert_error(c.patch(f"/api/orders/{MISSING}", headers=h, json={"status": "SHIPPED"}), 400)
        assert_error(
            c.post("/api/payments", headers=h, json={"orderId": MISSING, "method": "CARD"}),
            400,
            "VALIDATION_ERROR",
        )


def test_unknown_routes_and_resources_are_404_in_the_same_format(stack: Stack) -> None:
    buyer, admin = stack.any("BUYER"), stack.any("ADMIN")
    with stack.client() as c:
        assert_error(c.get("/api/nothing-here"), 404, "NOT_FOUND")
        assert_error(c.delete("/health/live"), 405)
        assert_error(c.get(f"/api/orders/{MISSING}", headers=auth(buyer)), 404, "NOT_FOUND")
        assert_error(c.get(f"/api/wallets/{MISSING}", headers=auth(admin)), 404, "NOT_FOUND")
        assert_error(c.post(f"/api/payments/{MISSING}/capture", headers=auth(admin)), 404, "NOT_FOUND")
        assert_error(c.get(f"/api/admin/agents/metrics/{MISSING}", headers=auth(admin)), 404, "NOT_FOUND")
        assert_error(
            c.post(f"/api/shipping/assignments/{MISSING}/accept", headers=auth(stack.any("AGENT"))), 404
        )


def test_order_lifecycle_history_and_state_machine(stack: Stack) -> None:
    buyer, other, seller = stack.any("BUYER", 4), stack.any("BUYER", 5), stack.any("SELLER")
    with stack.client() as c:
        order = create_order(c, buyer, seller, quantity=3, unit_price_cents=250)
        assert order["status"] == "PENDING" and order["totalCents"] == 750
        assert {"id", "buyerId", "sellerId", "status", "totalCents", "createdAt", "updatedAt"} <= set(order)
        got = c.get(f"/api/orders/{order['id']}", headers=auth(buyer)).json()
        assert got["payment"] is None and got["shippingAssignments"] == []
        assert_error(c.get(f"/api/orders/{order['id']}", headers=auth(other)), 403)
        assert c.get(f"/api/orders/{order['id']}", headers=auth(seller)).status_code == 200
        url = f"/api/orders/{order['id']}"
        assert_error(c.patch(url, headers=auth(buyer), json={"status": "CONFIRMED"}), 403)
        assert_error(
            c.patch(url, headers=auth(seller), json={"status": "DELIVERED"}), 400, "INVALID_STATUS_TRANSITION"
        )
        assert (
            c.patch(url, headers=auth(seller), json={"status": "CONFIRMED"}).json()["status"] == "CONFIRMED"
        )
        assert c.patch(url, headers=auth(buyer), json={"status": "CANCELLED"}).json()["status"] == "CANCELLED"
        assert_error(
            c.patch(url, headers=auth(seller), json={"status": "SHIPPING"}), 400, "INVALID_STATUS_TRANSITION"
        )
        steps = stack.sql(
            "SELECT from_status, to_status FROM order_status_history WHERE order_id = %s ORDER BY at",
            (order["id"],),
        )
        assert [(s["from_status"], s["to_status"]) for s in steps] == [
            (None, "PENDING"),
            ("PENDING", "CONFIRMED"),
            ("CONFIRMED", "CANCELLED"),
        ]
        assert_error(
            c.post("/api/orders", headers=auth(buyer), json=order_body(buyer)), 400, "INVALID_SELLER"
        )


def test_payment_capture_writes_three_balanced_entries_once(stack: Stack) -> None:
    buyer, other, seller, admin = (
        stack.claim("BUYER"),
        stack.any("BUYER"),
        stack.any("SELLER"),
        stack.any("ADMIN"),
    )
    with stack.client() as c:
        start = c.get(f"/api/wallets/{buyer['walletId']}", headers=auth(buyer)).json()["balanceCents"]
        order = create_order(c, buyer, seller, quantity=2, unit_price_cents=1000)
        assert_error(c.post("/api/payments", headers=auth(other), json={"orderId": order["id"]}), 403)
        r = c.post("/api/payments", headers=auth(buyer), json={"orderId": order["id"], "method": "WALLET"})
        assert r.status_code == 201
        payment = r.json()
        assert payment["lifecycle"] == "INITIATED" and payment["amountCents"] == 2000
        assert_error(c.post("/api/payments", headers=auth(buyer), json={"orderId": order["id"]}), 409)
        cap = f"/api/payments/{payment['id']}/capture"
        assert_error(c.post(cap, headers=auth(other)), 403)
        done = c.post(cap, headers=auth(buyer))
        assert done.status_code == 200, done.text
        assert done.json()["lifecycle"] == "CAPTURED"
        assert_error(c.post(cap, headers=auth(buyer)), 409, "PAYMENT_ALREADY_CAPTURED")
        assert_error(c.post(cap, headers=auth(admin)), 409, "PAYMENT_ALREADY_CAPTURED")
        entries = stack.sql(
            "SELECT entry_type, amount_cents, idempotency_key FROM ledger_entries WHERE payment_id = %s",
            (payment["id"],),
        )
        by_type = {e["entry_type"]: e for e in entries}
        assert len(entries) == 3 and sum(e["amount_cents"] for e in entries) == 0
        assert by_type["BUYER_DEBIT"]["amount_cents"] == -2000
        assert by_type["PLATFORM_FEE_CREDIT"]["amount_cents"] == 200
        assert by_type["SELLER_CREDIT"]["amount_cents"] == 1800
        assert all(e["idempotency_key"].startswith(f"payment_{payment['id']}_") for e in entries)
        assert len({e["idempotency_key"] for e in entries}) == 3
        after = c.get(f"/api/wallets/{buyer['walletId']}", headers=auth(buyer)).json()
        assert after["balanceCents"] == start - 2000 and after["ownerId"] == buyer["id"]
        got = c.get(f"/api/orders/{order['id']}", headers=auth(buyer)).json()
        assert got["payment"]["lifecycle"] == "CAPTURED"


def test_insufficient_funds_is_400_and_writes_nothing(stack: Stack) -> None:
    buyer, seller = stack.claim("BUYER"), stack.any("SELLER")
    with stack.client() as c:
        order = create_order(c, buyer, seller, quantity=100, unit_price_cents=10_000_000)
        payment = c.post("/api/payments", headers=auth(buyer), json={"orderId": order["id"]}).json()
        body = assert_error(c.post(f"/api/payments/{payment['id']}/capture", headers=auth(buyer)), 400)
        assert body["code"] == "INSUFFICIENT_FUNDS"
    assert (
        stack.sql("SELECT count(*) AS n FROM ledger_entries WHERE payment_id = %s", (payment["id"],))[0]["n"]
        == 0
    )


def test_idempotency_key_replays_and_rejects_reuse(stack: Stack) -> None:
    buyer, seller = stack.claim("BUYER"), stack.any("SELLER")
    key = new_key()
    with stack.client() as c:
        h = auth(buyer) | {"Idempotency-Key": key}
        first = c.post("/api/orders", headers=h, json=order_body(seller))
        again = c.post("/api/orders", headers=h, json=order_body(seller))
        assert first.status_code == again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
        assert again.json() == first.json()
        assert_error(
            c.post("/api/orders", headers=h, json=order_body(seller, quantity=2)),
            409,
            "IDEMPOTENCY_KEY_REUSED",
        )
        payment = c.post("/api/payments", headers=auth(buyer), json={"orderId": first.json()["id"]}).json()
        cap = f"/api/payments/{payment['id']}/capture"
        ck = auth(buyer) | {"Idempotency-Key": new_key()}
        one, two = c.post(cap, headers=ck), c.post(cap, headers=ck)
        assert one.status_code == two.status_code == 200
        assert two.headers["Idempotent-Replayed"] == "true"
        assert_error(
            c.post(cap, headers=auth(buyer) | {"Idempotency-Key": new_key()}), 409, "PAYMENT_ALREADY_CAPTURED"
        )
    assert stack.sql("SELECT count(*) AS n FROM orders WHERE idempotency_key = %s", (key,))[0]["n"] == 1


def test_top_up_is_a_balanced_pair(stack: Stack) -> None:
    buyer, admin = stack.claim("BUYER"), stack.any("ADMIN")
    with stack.client() as c:
        before = c.get(f"/api/wallets/{buyer['walletId']}", headers=auth(admin)).json()["balanceCents"]
        r = c.post(
            f"/api/wallets/{buyer['walletId']}/top-up", headers=auth(admin), json={"amountCents": 1234}
        )
        assert r.status_code == 201 and r.json()["balanceCents"] == before + 1234
        assert_error(
            c.post(f"/api/wallets/{buyer['walletId']}/top-up", headers=auth(admin), json={"amountCents": 0}),
            400,
        )
        assert_error(
            c.post(f"/api/wallets/{MISSING}/top-up", headers=auth(admin), json={"amountCents": 5}), 404
        )
        assert_error(c.get(f"/api/wallets/{buyer['walletId']}", headers=auth(stack.any("BUYER", 6))), 403)
    assert stack.sql("SELECT SUM(amount_cents) AS s FROM ledger_entries")[0]["s"] == 0


def test_assignment_flow_to_delivery_and_agent_rules(stack: Stack) -> None:
    buyer, seller, admin = stack.any("BUYER", 7), stack.any("SELLER"), stack.any("ADMIN")
    agent, other = stack.any("AGENT", 5), stack.any("AGENT", 6)
    with stack.client() as c:
        order = paid_order(c, buyer, seller)
        assignment = open_assignment(c, admin, order["id"])
        assert assignment["status"] == "OPEN" and assignment["agentId"] is None
        listed = c.get("/api/shipping/assignments?status=OPEN", headers=auth(agent)).json()
        assert assignment["id"] in {a["id"] for a in listed}
        base = f"/api/shipping/assignments/{assignment['id']}"
        assert_error(c.post(f"{base}/pickup", headers=auth(agent)), 403)
        accepted = c.post(f"{base}/accept", headers=auth(agent))
        assert accepted.status_code == 200 and accepted.json()["status"] == "ACCEPTED"
        assert accepted.json()["agentId"] == agent["agentId"]
        assert_error(c.post(f"{base}/accept", headers=auth(other)), 409, "ASSIGNMENT_TAKEN")
        assert_error(c.post(f"{base}/deliver", headers=auth(agent)), 400, "INVALID_ASSIGNMENT_STATE")
        assert_error(c.post(f"{base}/pickup", headers=auth(other)), 403)
        assert c.post(f"{base}/pickup", headers=auth(agent)).json()["status"] == "PICKED_UP"
        assert c.get(f"/api/orders/{order['id']}", headers=auth(buyer)).json()["status"] == "SHIPPING"
        assert c.post(f"{base}/deliver", headers=auth(agent)).json()["status"] == "DELIVERED"
        final = c.get(f"/api/orders/{order['id']}", headers=auth(agent)).json()
        assert final["status"] == "DELIVERED" and final["shippingAssignments"][0]["status"] == "DELIVERED"
        mine = c.get("/api/shipping/assignments?status=DELIVERED", headers=auth(agent)).json()
        assert assignment["id"] in {a["id"] for a in mine}
        # Offered to one candidate only: anyone else is refused.
        order2 = confirmed_order(c, buyer, seller)
        r = c.post(
            "/api/shipping/assignments",
            headers=auth(seller),
            json={"orderId": order2["id"], "candidateAgentIds": [agent["agentId"]]},
        )
        assert r.status_code == 201
        assert_error(c.post(f"/api/shipping/assignments/{r.json()['id']}/accept", headers=auth(other)), 403)
        assert_error(
            c.post(
                "/api/shipping/assignments",
                headers=auth(stack.any("SELLER", 1)),
                json={"orderId": order2["id"]},
            ),
            403,
        )


def test_admin_agent_metrics(stack: Stack) -> None:
    admin, agent = stack.any("ADMIN"), stack.any("AGENT")
    with stack.client() as c:
        board = c.get("/api/admin/agents/leaderboard", headers=auth(admin))
        assert board.status_code == 200 and len(board.json()["agents"]) == len(stack.users("AGENT"))
        one = c.get(f"/api/admin/agents/metrics/{agent['agentId']}", headers=auth(admin)).json()
        assert one["agentId"] == agent["agentId"] and "deliveredCount" in one
        sla = c.get("/api/admin/agents/sla-summary", headers=auth(admin)).json()
        assert {"deliveredCount", "onTimeCount", "lateCount", "onTimeRate"} <= set(sla)


def test_structured_log_has_route_templates_and_domain_events(stack: Stack) -> None:
    buyer = stack.any("BUYER")
    with stack.client() as c:
        c.get(f"/api/orders/{MISSING}", headers=auth(buyer))

    def logged() -> bool:
        routes = {e["route"] for e in stack.log_events("http_request_completed")}
        return "/api/orders/{order_id}" in routes

    poll_until(logged, timeout_s=5, what="http_request_completed with the route template")
    record = next(
        e for e in stack.log_events("http_request_completed") if e["route"] == "/api/orders/{order_id}"
    )
    assert {"timestamp", "level", "method", "status", "duration"} <= set(record)
    assert stack.log_events("http_exception")
