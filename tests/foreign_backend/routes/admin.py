"""Read-only courier metrics for admins: leaderboard, one agent, SLA summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.foreign_backend.db import all_rows, one
from tests.foreign_backend.errors import not_found, now_iso
from tests.foreign_backend.web import Reply, Request

if TYPE_CHECKING:
    from tests.foreign_backend.app import App

_STATS = """
    count(j.id) AS "totalAssignments",
    count(j.id) FILTER (WHERE j.state IN ('ACCEPTED', 'PICKED_UP')) AS "activeAssignments",
    count(j.id) FILTER (WHERE j.state = 'DELIVERED') AS "deliveredCount",
    count(j.id) FILTER (WHERE j.state = 'DELIVERED' AND j.delivered_at <= j.due_at) AS "onTimeCount",
    round(avg(EXTRACT(EPOCH FROM j.delivered_at - j.accepted_at) / 60)
          FILTER (WHERE j.state = 'DELIVERED')::numeric, 2)::float8 AS "avgDeliveryMinutes"
"""


def leaderboard(app: App, req: Request) -> Reply:
    with app.db.connection() as conn:
        rows = all_rows(
            conn,
            f"""SELECT c.id AS "agentId", c.member_id AS "userId", {_STATS}
                FROM couriers c LEFT JOIN courier_jobs j ON j.courier_id = c.id
                GROUP BY c.id ORDER BY "deliveredCount" DESC, "onTimeCount" DESC, c.id LIMIT 20""",
        )
    return Reply(200, {"agents": [dict(r) for r in rows], "generatedAt": now_iso()})


def agent_metrics(app: App, req: Request) -> Reply:
    agent_id = req.uuid_param("agentId")
    with app.db.connection() as conn:
        row = one(
            conn,
            f"""SELECT c.id AS "agentId", c.member_id AS "userId", c.active AS "isAvailable",
                       c.zips AS "serviceZipCodes", {_STATS}
                FROM couriers c LEFT JOIN courier_jobs j ON j.courier_id = c.id
                WHERE c.id = %s GROUP BY c.id""",
            (agent_id,),
        )
    if row is None:
        raise not_found("Agent")
    return Reply(200, dict(row))


def sla_summary(app: App, req: Request) -> Reply:
    with app.db.connection() as conn:
        row = one(
            conn,
            """SELECT count(*) AS "deliveredCount",
                      count(*) FILTER (WHERE delivered_at <= due_at) AS "onTimeCount",
                      count(*) FILTER (WHERE delivered_at > due_at) AS "lateCount",
                      round(avg(EXTRACT(EPOCH FROM delivered_at - accepted_at) / 60)::numeric, 2)::float8
                        AS "avgDeliveryMinutes"
               FROM courier_jobs WHERE state = 'DELIVERED'""",
        )
    summary = dict(row or {})
    delivered = int(summary.get("deliveredCount") or 0)
    summary["onTimeRate"] = round(int(summary.get("onTimeCount") or 0) / delivered, 4) if delivered else None
    summary["generatedAt"] = now_iso()
    return Reply(200, summary)
