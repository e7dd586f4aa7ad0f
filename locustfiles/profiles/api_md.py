"""The profile of ../shared/API.md: the reference service, and the default of every run.

Each step's name is its `METHOD path-template`, as the reports have always shown it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from locustfiles.common.profile import OrderView, Profile, Step, field_reader


def _order(a: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "sellerId": a["seller_id"],
        "items": [{"sku": a["sku"], "quantity": a["quantity"], "unitPriceCents": a["unit_price_cents"]}],
        "shippingZip": a["shipping_zip"],
    }


def _order_view(body: Any) -> OrderView:
    if not isinstance(body, dict):
        return OrderView(None)
    payment = body.get("payment")
    if not isinstance(payment, dict):
        payment = {}
    assignments = body.get("shippingAssignments") or []
    return OrderView(
        id=str(body["id"]) if body.get("id") else None,
        payment_id=str(payment["id"]) if payment.get("id") else None,
        captured=payment.get("lifecycle") == "CAPTURED",
        assignment_ids=tuple(str(a["id"]) for a in assignments if isinstance(a, dict) and a.get("id")),
    )


PROFILE = Profile(
    name="api_md",
    login=Step(
        "POST",
        "/api/auth/login",
        body=lambda a: {"email": a["email"], "password": a["password"]},
        read=field_reader("accessToken"),
    ),
    create_order=Step("POST", "/api/orders", body=_order, read=field_reader("totalCents"), refusals=(409,)),
    initiate_payment=Step(
        "POST", "/api/payments", body=lambda a: {"orderId": a["order_id"], "method": "WALLET"}
    ),
    capture=Step(
        "POST",
        "/api/payments/{payment_id}/capture",
        name="POST /api/payments/{id}/capture",
        refusals=(400, 409),
    ),
    top_up=Step(
        "POST",
        "/api/wallets/{wallet_id}/top-up",
        name="POST /api/wallets/{id}/top-up",
        body=lambda a: {"amountCents": a["amount_cents"]},
    ),
    read_wallet=Step(
        "GET", "/api/wallets/{wallet_id}", name="GET /api/wallets/{id}", read=field_reader("balanceCents")
    ),
    change_status=Step(
        "PATCH",
        "/api/orders/{order_id}",
        name="PATCH /api/orders/{id}",
        body=lambda a: {"status": a["status"]},
        refusals=(400, 409),
    ),
    open_assignment=Step(
        "POST",
        "/api/shipping/assignments",
        body=lambda a: {"orderId": a["order_id"], "candidateAgentIds": a["candidate_agent_ids"]},
        refusals=(409,),
    ),
    list_assignments=Step("GET", "/api/shipping/assignments", query="status=OPEN"),
    accept=Step(
        "POST",
        "/api/shipping/assignments/{assignment_id}/accept",
        name="POST /api/shipping/assignments/{id}/accept",
        refusals=(409,),
    ),
    pickup=Step(
        "POST",
        "/api/shipping/assignments/{assignment_id}/pickup",
        name="POST /api/shipping/assignments/{id}/pickup",
    ),
    deliver=Step(
        "POST",
        "/api/shipping/assignments/{assignment_id}/deliver",
        name="POST /api/shipping/assignments/{id}/deliver",
    ),
    leaderboard=Step("GET", "/api/admin/agents/leaderboard"),
    agent_metrics=Step(
        "GET", "/api/admin/agents/metrics/{agent_id}", name="GET /api/admin/agents/metrics/{agentId}"
    ),
    sla_summary=Step("GET", "/api/admin/agents/sla-summary"),
    read_order=Step("GET", "/api/orders/{order_id}", name="GET /api/orders/{id}", read=_order_view),
)
