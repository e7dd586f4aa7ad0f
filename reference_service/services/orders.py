"""Order creation, reads and status changes (with the `order_status_lock` safeguard)."""

from __future__ import annotations

import asyncio
from typing import Any

from psycopg.rows import DictRow

from reference_service.auth import Principal, Role
from reference_service.db import Session
from reference_service.errors import ApiError, bad_request, forbidden, not_found
from reference_service.logs import JsonLogger
from reference_service.repositories import orders as repo
from reference_service.services.settlement import settle
from reference_service.states import OrderStatus, can_transition

SHIPPED = frozenset({OrderStatus.SHIPPING, OrderStatus.DELIVERED})

RETRY_BACKOFF_S = (0.05, 0.1, 0.2)
MAX_ATTEMPTS = 3


async def create(
    s: Session, principal: Principal, payload: dict[str, Any], idempotency_key: str | None
) -> tuple[int, Any]:
    items = payload["items"]
    total = sum(int(i["quantity"]) * int(i["unitPriceCents"]) for i in items)
    row = await repo.create(
        s,
        buyer_id=principal.user_id,
        seller_id=str(payload["sellerId"]),
        total_cents=total,
        shipping_zip=payload["shippingZip"],
        items=items,
        idempotency_key=idempotency_key,
    )
    if row is None:
        raise bad_request(
            "INVALID_SELLER", "sellerId is not a seller", {"sellerId": str(payload["sellerId"])}
        )
    return 201, row


def may_read(principal: Principal, order: DictRow) -> bool:
    if principal.role is Role.ADMIN:
        return True
    if principal.role is Role.BUYER:
        return str(order["buyerId"]) == principal.user_id
    if principal.role is Role.SELLER:
        return str(order["sellerId"]) == principal.user_id
    return any(a.get("agentId") == principal.agent_id for a in order["shippingAssignments"])


async def get(s: Session, principal: Principal, order_id: str) -> DictRow:
    order = await repo.get_with_relations(s, order_id)
    if order is None:
        raise not_found("Order")
    if not may_read(principal, order):
        raise forbidden("This order belongs to someone else")
    return order


def _check_actor(principal: Principal, order: DictRow, target: str) -> None:
    """Admins change any order, sellers their own; a buyer may only cancel its own."""
    if principal.role is Role.ADMIN:
        return
    if principal.role is Role.SELLER and str(order["seller_id"]) == principal.user_id:
        return
    if principal.role is Role.BUYER and str(order["buyer_id"]) == principal.user_id:
        if target == OrderStatus.CANCELLED:
            return
        raise forbidden("A buyer may only cancel its order")
    raise forbidden("You may not change this order")


def _cannot_cancel_after_shipping(order_id: str, current: str) -> ApiError:
    """Seed 000's BusinessRuleException: the rule it names travels in `details.ruleViolated`."""
    return bad_request(
        "ORDER_CANNOT_CANCEL_AFTER_SHIPPING",
        "Order cannot be cancelled after shipment",
        {
            "ruleViolated": "ORDER_CANCELLATION_WINDOW_EXPIRED",
            "context": {"orderId": order_id, "currentStatus": current},
        },
    )


def _invalid(current: str, target: str) -> ApiError:
    return bad_request(
        "INVALID_STATUS_TRANSITION",
        f"Cannot move an order from {current} to {target}",
        {"from": current, "to": target},
    )


async def change_status(
    s: Session,
    principal: Principal,
    order_id: str,
    target: str,
    *,
    guarded: bool,
    log: JsonLogger,
    keep_money: bool = False,
) -> DictRow:
    """Seed 001's optimistic update (3 attempts, 50/100/200 ms), or seed 000's BEFORE code."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        order = await repo.get_summary(s, order_id)
        if order is None:
            raise not_found("Order")
        _check_actor(principal, order, target)
        current = order["status"]
        if target == OrderStatus.CANCELLED and current in SHIPPED:
            raise _cannot_cancel_after_shipping(order_id, current)
        if not can_transition(current, target):
            raise _invalid(current, target)
        if target == OrderStatus.DELIVERED and principal.role is not Role.ADMIN:
            raise forbidden("Delivery is confirmed by the delivering agent (or an admin), not the seller")
        await s.race_window()
        # The status change and what money does with it (settlement.settle) commit together.
        async with s.transaction():
            if not guarded:
                updated = await repo.set_status_blind(s, order_id, current, target)
                if updated is None:
                    raise not_found("Order")
                await settle(s, order_id, target, log, keep_money=keep_money)
                return updated
            updated = await repo.set_status_if(s, order_id, current, target)
            if updated is not None:
                await settle(s, order_id, target, log, keep_money=keep_money)
                return updated
        if attempt < MAX_ATTEMPTS:
            log.warn("order_status_update_retry", orderId=order_id, attempt=attempt, target=target)
            await asyncio.sleep(RETRY_BACKOFF_S[attempt - 1])
    log.warn("order_status_update_conflict", orderId=order_id, attempts=MAX_ATTEMPTS, target=target)
    raise ApiError(
        409, "ORDER_STATUS_CONFLICT", "Order status was updated by another request; refresh and retry"
    )
