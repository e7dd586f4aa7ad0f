"""Orders: create (Idempotency-Key), read with payment and assignments, status changes."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from tests.foreign_backend import idempotency
from tests.foreign_backend.auth import Principal
from tests.foreign_backend.db import Conn, one
from tests.foreign_backend.errors import ApiError, forbidden, invalid, not_found
from tests.foreign_backend.states import STATES, can_move
from tests.foreign_backend.views import ORDER_FIELDS, order_with_relations
from tests.foreign_backend.web import Reply, Request, parse_uuid, strict_int

if TYPE_CHECKING:
    from tests.foreign_backend.app import App

RETRY_BACKOFF_S = (0.05, 0.1, 0.2)


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= 100:
        raise invalid("items", "must be a list of 1-100 items")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise invalid(f"items.{i}", "must be an object")
        sku = item.get("sku")
        if not isinstance(sku, str) or not 1 <= len(sku) <= 64:
            raise invalid(f"items.{i}.sku", "must be a string of 1-64 characters")
        quantity = strict_int(item, "quantity", minimum=1, maximum=10_000)
        price = strict_int(item, "unitPriceCents", minimum=0)
        out.append({"sku": sku, "quantity": quantity, "unitPriceCents": price})
    return out


def create(app: App, req: Request) -> Reply:
    body = req.json()
    seller = parse_uuid(body.get("sellerId"), "sellerId")
    items = _items(body)
    zip_code = body.get("shippingZip")
    if not isinstance(zip_code, str) or not 3 <= len(zip_code) <= 12:
        raise invalid("shippingZip", "must be a string of 3-12 characters")
    total = sum(i["quantity"] * i["unitPriceCents"] for i in items)
    key = req.headers.get("Idempotency-Key")

    def work(conn: Conn) -> tuple[int, Any]:
        row = one(
            conn,
            f"""WITH o AS (
                  INSERT INTO purchase_orders (buyer_id, seller_id, total_cents, ship_zip, items, request_key)
                  SELECT %s, m.id, %s, %s, %s, %s FROM members m WHERE m.id = %s AND m.role = 'SELLER'
                  RETURNING *),
                t AS (INSERT INTO order_transitions (order_id, from_state, to_state)
                      SELECT id, NULL, 'PENDING' FROM o)
                SELECT {ORDER_FIELDS} FROM o""",
            (req.user.user_id, total, zip_code, Jsonb(items), key, seller),
        )
        if row is None:
            raise ApiError(400, "INVALID_SELLER", "sellerId is not a seller", details={"sellerId": seller})
        return 201, dict(row)

    return idempotency.run(app, req, body, work)


def _may_read(user: Principal, order: dict[str, Any]) -> bool:
    if user.role == "ADMIN":
        return True
    if user.role == "BUYER":
        return str(order["buyerId"]) == user.user_id
    if user.role == "SELLER":
        return str(order["sellerId"]) == user.user_id
    return any(a.get("agentId") == user.agent_id for a in order["shippingAssignments"])


def get(app: App, req: Request) -> Reply:
    order_id = req.uuid_param("id")
    with app.db.connection() as conn:
        order = order_with_relations(conn, order_id)
    if order is None:
        raise not_found("Order")
    if not _may_read(req.user, order):
        raise forbidden("This order belongs to someone else")
    return Reply(200, order)


def _check_actor(user: Principal, order: dict[str, Any], target: str) -> None:
    """Admins change any order, sellers their own; a buyer may only cancel its own."""
    if user.role == "ADMIN":
        return
    if user.role == "SELLER" and str(order["seller_id"]) == user.user_id:
        return
    if user.role == "BUYER" and str(order["buyer_id"]) == user.user_id and target == "CANCELLED":
        return
    raise forbidden("You may not change this order")


def patch(app: App, req: Request) -> Reply:
    """Optimistic update: 3 attempts with 50/100/200 ms backoff, then 409 ORDER_STATUS_CONFLICT."""
    order_id = req.uuid_param("id")
    target = req.json().get("status")
    if target not in STATES:
        raise invalid("status", f"must be one of {', '.join(STATES)}")
    for attempt, backoff in enumerate(RETRY_BACKOFF_S, start=1):
        with app.db.connection() as conn:
            order = one(
                conn, "SELECT state, buyer_id, seller_id FROM purchase_orders WHERE id = %s", (order_id,)
            )
            if order is None:
                raise not_found("Order")
            _check_actor(req.user, order, target)
            current = str(order["state"])
            if not can_move(current, target):
                raise ApiError(
                    400,
                    "INVALID_STATUS_TRANSITION",
                    f"Cannot move an order from {current} to {target}",
                    details={"from": current, "to": target},
                )
            moved = set_state_if(conn, order_id, current, target)
        if moved is not None:
            return Reply(200, moved)
        if attempt < len(RETRY_BACKOFF_S):
            time.sleep(backoff)
    raise ApiError(
        409, "ORDER_STATUS_CONFLICT", "Order status was updated by another request; refresh and retry"
    )


def set_state_if(conn: Conn, order_id: str, current: str, target: str) -> dict[str, Any] | None:
    """Move the order `current` -> `target` and record the step, only if it is still `current`."""
    row = one(
        conn,
        f"""WITH u AS (
              UPDATE purchase_orders SET state = %(target)s, updated_at = now()
              WHERE id = %(id)s AND state = %(current)s RETURNING *),
            t AS (INSERT INTO order_transitions (order_id, from_state, to_state)
                  SELECT id, %(current)s, %(target)s FROM u)
            SELECT {ORDER_FIELDS} FROM u""",
        {"id": order_id, "current": current, "target": target},
    )
    return dict(row) if row is not None else None
