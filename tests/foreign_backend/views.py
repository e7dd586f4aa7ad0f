"""How rows of this schema are shown in API.md's camelCase shapes."""

from __future__ import annotations

from typing import Any

from tests.foreign_backend.db import Conn, one

ORDER_FIELDS = """id, buyer_id AS "buyerId", seller_id AS "sellerId", state AS status,
    total_cents AS "totalCents", ship_zip AS "shippingZip", items,
    created_at AS "createdAt", updated_at AS "updatedAt\""""

PAYMENT_FIELDS = """id, order_id AS "orderId", cents AS "amountCents", stage AS lifecycle, method,
    created_at AS "createdAt", captured_at AS "capturedAt\""""

ASSIGNMENT_FIELDS = """id, order_id AS "orderId", courier_id AS "agentId", state AS status,
    candidates AS "candidateAgentIds", due_at AS "estimatedDeliveryTime", created_at AS "createdAt",
    accepted_at AS "acceptedAt", picked_up_at AS "pickedUpAt", delivered_at AS "deliveredAt\""""


def order_with_relations(conn: Conn, order_id: str) -> dict[str, Any] | None:
    """The order with its `payment` (or null) and `shippingAssignments`."""
    row = one(
        conn,
        f"""SELECT {ORDER_FIELDS},
              (SELECT to_jsonb(p) FROM (SELECT {PAYMENT_FIELDS} FROM charges WHERE order_id = o.id) p)
                AS payment,
              COALESCE((SELECT jsonb_agg(a ORDER BY a."createdAt")
                        FROM (SELECT {ASSIGNMENT_FIELDS} FROM courier_jobs WHERE order_id = o.id) a),
                       '[]'::jsonb) AS "shippingAssignments"
            FROM purchase_orders o WHERE o.id = %s""",
        (order_id,),
    )
    return dict(row) if row is not None else None
