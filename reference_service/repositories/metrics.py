"""Read-only agent metrics for admins (seed 000 Track B): leaderboard, per agent, SLA summary."""

from __future__ import annotations

from psycopg.rows import DictRow

from reference_service.db import Session

_AGENT_STATS = """
    count(sa.id) AS "totalAssignments",
    count(sa.id) FILTER (WHERE sa.status IN ('ACCEPTED', 'PICKED_UP')) AS "activeAssignments",
    count(sa.id) FILTER (WHERE sa.status = 'DELIVERED') AS "deliveredCount",
    count(sa.id) FILTER (WHERE sa.status = 'DELIVERED' AND sa.delivered_at <= sa.estimated_delivery_time)
        AS "onTimeCount",
    round(avg(EXTRACT(EPOCH FROM sa.delivered_at - sa.accepted_at) / 60)
        FILTER (WHERE sa.status = 'DELIVERED')::numeric, 2)::float8 AS "avgDeliveryMinutes"
"""


async def leaderboard(s: Session, limit: int) -> list[DictRow]:
    return await s.all(
        """SELECT a.id AS "agentId", a.user_id AS "userId", """
        + _AGENT_STATS
        + """ FROM delivery_agents a
           LEFT JOIN shipping_assignments sa ON sa.agent_id = a.id
           GROUP BY a.id
           ORDER BY "deliveredCount" DESC, "onTimeCount" DESC, a.id
           LIMIT %s""",
        (limit,),
        op="metrics.leaderboard",
    )


async def for_agent(s: Session, agent_id: str) -> DictRow | None:
    return await s.one(
        """SELECT a.id AS "agentId", a.user_id AS "userId", a.status, a.is_available AS "isAvailable",
                  a.service_zip_codes AS "serviceZipCodes", """
        + _AGENT_STATS
        + """ FROM delivery_agents a
           LEFT JOIN shipping_assignments sa ON sa.agent_id = a.id
           WHERE a.id = %s
           GROUP BY a.id""",
        (agent_id,),
        op="metrics.for_agent",
    )


async def sla_summary(s: Session) -> DictRow | None:
    """Over delivered assignments only (the partial index idx_shipping_assignments_delivered_sla)."""
    return await s.one(
        """SELECT count(*) AS "deliveredCount",
                  count(*) FILTER (WHERE delivered_at <= estimated_delivery_time) AS "onTimeCount",
                  count(*) FILTER (WHERE delivered_at > estimated_delivery_time) AS "lateCount",
                  round(avg(EXTRACT(EPOCH FROM delivered_at - accepted_at) / 60)::numeric, 2)::float8
                    AS "avgDeliveryMinutes"
           FROM shipping_assignments WHERE status = 'DELIVERED'""",
        op="metrics.sla_summary",
    )
