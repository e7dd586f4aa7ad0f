"""Read-only agent metrics for admins."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from starlette.responses import Response

from reference_service.errors import not_found
from reference_service.logs import utc_now_iso
from reference_service.repositories import metrics as repo
from reference_service.responses import json_response
from reference_service.routes.deps import DB, Admin

router = APIRouter(prefix="/api/admin/agents")


@router.get("/leaderboard")
async def leaderboard(
    _: Admin,
    db: DB,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Response:
    async with db.session() as s:
        rows = await repo.leaderboard(s, limit)
    return json_response({"agents": rows, "generatedAt": utc_now_iso()})


@router.get("/metrics/{agent_id}")
async def agent_metrics(agent_id: UUID, _: Admin, db: DB) -> Response:
    async with db.session() as s:
        row = await repo.for_agent(s, str(agent_id))
    if row is None:
        raise not_found("Agent")
    return json_response(row)


@router.get("/sla-summary")
async def sla_summary(_: Admin, db: DB) -> Response:
    async with db.session() as s:
        row = await repo.sla_summary(s)
    summary = dict(row or {})
    delivered = int(summary.get("deliveredCount") or 0)
    summary["onTimeRate"] = round(int(summary.get("onTimeCount") or 0) / delivered, 4) if delivered else None
    summary["generatedAt"] = utc_now_iso()
    return json_response(summary)
