"""Orders and their status history."""

from __future__ import annotations

from typing import Any

from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from reference_service.db import Session

ORDER_COLUMNS = """id, buyer_id AS "buyerId", seller_id AS "sellerId", status,
    total_cents AS "totalCents", shipping_zip AS "shippingZip", items,
    created_at AS "createdAt", updated_at AS "updatedAt\""""


async def create(
    s: Session,
    *,
    buyer_id: str,
    seller_id: str,
    total_cents: int,
    shipping_zip: str,
    items: list[dict[str, Any]],
    idempotency_key: str | None,
) -> DictRow | None:
    """Insert a PENDING order and its NULL -> PENDING history row; None if the seller is unknown."""
    return await s.one(
        """WITH o AS (
             INSERT INTO orders (buyer_id, seller_id, total_cents, shipping_zip, items, idempotency_key)
             SELECT %s, u.id, %s, %s, %s, %s FROM users u WHERE u.id = %s AND u.role = 'SELLER'
             RETURNING *),
           h AS (INSERT INTO order_status_history (order_id, from_status, to_status)
                 SELECT id, NULL, 'PENDING' FROM o)
           SELECT """
        + ORDER_COLUMNS
        + " FROM o",
        (buyer_id, total_cents, shipping_zip, Jsonb(items), idempotency_key, seller_id),
        op="orders.create",
    )


async def get_with_relations(s: Session, order_id: str) -> DictRow | None:
    return await s.one(
        "SELECT "
        + ORDER_COLUMNS
        + """,
          (SELECT to_jsonb(p) FROM (
              SELECT id, order_id AS "orderId", amount_cents AS "amountCents", lifecycle,
                     payment_method AS "method", created_at AS "createdAt", captured_at AS "capturedAt"
              FROM payments WHERE order_id = o.id) p) AS payment,
          COALESCE((SELECT jsonb_agg(a ORDER BY a."createdAt") FROM (
              SELECT id, order_id AS "orderId", agent_id AS "agentId", status, created_at AS "createdAt",
                     accepted_at AS "acceptedAt", picked_up_at AS "pickedUpAt", delivered_at AS "deliveredAt"
              FROM shipping_assignments WHERE order_id = o.id) a), '[]'::jsonb) AS "shippingAssignments"
        FROM orders o WHERE o.id = %s""",
        (order_id,),
        op="orders.get",
    )


async def get_summary(s: Session, order_id: str) -> DictRow | None:
    return await s.one(
        "SELECT id, status, buyer_id, seller_id, total_cents FROM orders WHERE id = %s",
        (order_id,),
        op="orders.get_status",
    )


async def set_status_if(s: Session, order_id: str, current: str, target: str) -> DictRow | None:
    """Optimistic update: only if the status is still `current`; writes the history step too."""
    return await s.one(
        """WITH upd AS (
             UPDATE orders SET status = %(target)s, updated_at = now()
             WHERE id = %(id)s AND status = %(current)s RETURNING *),
           h AS (INSERT INTO order_status_history (order_id, from_status, to_status)
                 SELECT id, %(current)s, %(target)s FROM upd)
           SELECT """
        + ORDER_COLUMNS
        + " FROM upd",
        {"id": order_id, "current": current, "target": target},
        op="orders.set_status_if",
    )


async def set_status_blind(s: Session, order_id: str, seen: str, target: str) -> DictRow | None:
    """Seed 000's BEFORE code: unconditional update, history says `seen` -> `target`."""
    return await s.one(
        """WITH upd AS (
             UPDATE orders SET status = %(target)s, updated_at = now() WHERE id = %(id)s RETURNING *),
           h AS (INSERT INTO order_status_history (order_id, from_status, to_status)
                 SELECT id, %(seen)s, %(target)s FROM upd)
           SELECT """
        + ORDER_COLUMNS
        + " FROM upd",
        {"id": order_id, "seen": seen, "target": target},
        op="orders.set_status_blind",
    )


async def history(s: Session, order_id: str) -> list[DictRow]:
    return await s.all(
        """SELECT from_status AS "fromStatus", to_status AS "toStatus", at
           FROM order_status_history WHERE order_id = %s ORDER BY at, id""",
        (order_id,),
        op="orders.history",
    )


async def lock(s: Session, order_id: str) -> DictRow | None:
    """The order row FOR UPDATE: writers of one order's assignments take turns on it."""
    return await s.one(
        "SELECT id, status, seller_id FROM orders WHERE id = %s FOR UPDATE", (order_id,), op="orders.lock"
    )
