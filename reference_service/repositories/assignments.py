"""Shipping assignments, their acceptance log, and delivery agents."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg.rows import DictRow

from reference_service.db import Session

ASSIGNMENT_COLUMNS = """id, order_id AS "orderId", agent_id AS "agentId", status,
    candidate_agent_ids AS "candidateAgentIds", estimated_delivery_time AS "estimatedDeliveryTime",
    created_at AS "createdAt", accepted_at AS "acceptedAt", picked_up_at AS "pickedUpAt",
    delivered_at AS "deliveredAt\""""

SLA_HOURS = 48


async def create(s: Session, order_id: str, candidates: Sequence[str] | None) -> DictRow | None:
    """An OPEN assignment. Without explicit candidates, the agents serving the order's zip code
    (GIN index on service_zip_codes) are the candidates; if none serves it, anyone may take it."""
    return await s.one(
        """WITH o AS (SELECT id, shipping_zip FROM orders WHERE id = %(order)s),
           c AS (SELECT CASE WHEN %(candidates)s::uuid[] IS NOT NULL THEN %(candidates)s::uuid[]
                        ELSE (SELECT NULLIF(array_agg(a.id), '{}') FROM delivery_agents a, o
                              WHERE a.service_zip_codes @> ARRAY[o.shipping_zip] AND a.status = 'ACTIVE')
                        END AS ids)
           INSERT INTO shipping_assignments (order_id, candidate_agent_ids, estimated_delivery_time)
           SELECT o.id, c.ids, now() + make_interval(hours => %(sla)s) FROM o, c
           RETURNING """
        + ASSIGNMENT_COLUMNS,
        {
            "order": order_id,
            "candidates": list(candidates) if candidates is not None else None,
            "sla": SLA_HOURS,
        },
        op="assignments.create",
    )


async def list_open_for(s: Session, agent_id: str, limit: int) -> list[DictRow]:
    return await s.all(
        "SELECT "
        + ASSIGNMENT_COLUMNS
        + """ FROM shipping_assignments
           WHERE status = 'OPEN' AND agent_id IS NULL
             AND (candidate_agent_ids IS NULL OR %(agent)s::uuid = ANY (candidate_agent_ids))
           ORDER BY created_at LIMIT %(limit)s""",
        {"agent": agent_id, "limit": limit},
        op="assignments.list_open",
    )


async def list_for_agent(s: Session, agent_id: str, status: str, limit: int) -> list[DictRow]:
    """The agent's own assignments in `status` (idx_shipping_assignments_agent_status)."""
    return await s.all(
        "SELECT "
        + ASSIGNMENT_COLUMNS
        + """ FROM shipping_assignments WHERE agent_id = %s AND status = %s ORDER BY created_at LIMIT %s""",
        (agent_id, status, limit),
        op="assignments.list_for_agent",
    )


async def get(s: Session, assignment_id: str, *, lock: str = "") -> DictRow | None:
    """The assignment row; `lock` is "" (plain read) or "NOWAIT" (FOR UPDATE NOWAIT)."""
    sql = "SELECT " + ASSIGNMENT_COLUMNS + " FROM shipping_assignments WHERE id = %s"
    if lock == "NOWAIT":
        sql += " FOR UPDATE NOWAIT"
    return await s.one(sql, (assignment_id,), op="assignments.get")


async def mark_accepted(
    s: Session, assignment_id: str, agent_id: str, *, only_if_open: bool
) -> DictRow | None:
    """Set the agent and ACCEPTED, and log the accept event in the same statement.

    `only_if_open=False` is seed 000's BEFORE code (unconditional update: last writer wins)."""
    condition = " AND agent_id IS NULL AND status = 'OPEN'" if only_if_open else ""
    return await s.one(
        """WITH upd AS (
             UPDATE shipping_assignments SET agent_id = %(agent)s, status = 'ACCEPTED', accepted_at = now()
             WHERE id = %(id)s"""
        + condition
        + """ RETURNING *),
           ev AS (INSERT INTO shipping_assignment_events (assignment_id, agent_id, event)
                  SELECT id, agent_id, 'ACCEPTED' FROM upd)
           SELECT """
        + ASSIGNMENT_COLUMNS
        + " FROM upd",
        {"id": assignment_id, "agent": agent_id},
        op="assignments.accept",
    )


async def advance(s: Session, assignment_id: str, agent_id: str, current: str, target: str) -> DictRow | None:
    """Move the agent's own assignment `current` -> `target` (PICKED_UP or DELIVERED)."""
    stamp = "picked_up_at" if target == "PICKED_UP" else "delivered_at"
    return await s.one(
        "UPDATE shipping_assignments SET status = %s, "
        + stamp
        + " = now() WHERE id = %s AND agent_id = %s AND status = %s RETURNING "
        + ASSIGNMENT_COLUMNS,
        (target, assignment_id, agent_id, current),
        op="assignments.advance",
    )


async def agent_exists(s: Session, agent_id: str) -> bool:
    row = await s.one("SELECT 1 AS x FROM delivery_agents WHERE id = %s", (agent_id,), op="agents.exists")
    return row is not None


LIVE_STATUSES = ("OPEN", "ACCEPTED", "PICKED_UP")


async def live_for_order(s: Session, order_id: str) -> DictRow | None:
    """The order's live (open, accepted or picked up) assignment, if any."""
    return await s.one(
        "SELECT "
        + ASSIGNMENT_COLUMNS
        + " FROM shipping_assignments WHERE order_id = %s AND status IN ('OPEN', 'ACCEPTED', 'PICKED_UP')"
        " LIMIT 1",
        (order_id,),
        op="assignments.live_for_order",
    )


async def cancel_live_for_order(s: Session, order_id: str) -> int:
    """A cancelled order's open or accepted assignments are cancelled with it."""
    return await s.execute(
        "UPDATE shipping_assignments SET status = 'CANCELLED'"
        " WHERE order_id = %s AND status IN ('OPEN', 'ACCEPTED')",
        (order_id,),
        op="assignments.cancel_live_for_order",
    )
