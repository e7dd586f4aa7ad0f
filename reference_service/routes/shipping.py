"""Shipping assignments: open, list, accept, pick up, deliver."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from starlette.responses import Response

from reference_service import defects
from reference_service.errors import forbidden
from reference_service.models import CreateAssignmentBody
from reference_service.repositories import assignments as repo
from reference_service.responses import json_response
from reference_service.routes.deps import DB, AdminOrSeller, Agent
from reference_service.services import assignments as service

router = APIRouter()
AssignmentStatus = Literal["OPEN", "ACCEPTED", "PICKED_UP", "DELIVERED", "CANCELLED"]


@router.post("/api/shipping/assignments")
async def open_assignment(
    body: CreateAssignmentBody,
    principal: AdminOrSeller,
    db: DB,
) -> Response:
    candidates = [str(c) for c in body.candidateAgentIds] if body.candidateAgentIds is not None else None
    async with db.session() as s:
        row = await service.open_assignment(db, s, principal, str(body.orderId), candidates)
    return json_response(row, 201)


@router.get("/api/shipping/assignments")
async def list_assignments(
    principal: Agent,
    db: DB,
    status: Annotated[AssignmentStatus, Query()] = "OPEN",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    if principal.agent_id is None:
        raise forbidden("Not a delivery agent")
    async with db.session() as s:
        if status == "OPEN":
            rows = await repo.list_open_for(s, principal.agent_id, limit)
        else:
            rows = await repo.list_for_agent(s, principal.agent_id, status, limit)
    return json_response(rows)


@router.post("/api/shipping/assignments/{assignment_id}/accept")
async def accept(assignment_id: UUID, principal: Agent, db: DB) -> Response:
    async with db.session() as s:
        row = await service.accept(db, s, principal, str(assignment_id))
    return json_response(row)


@router.post("/api/shipping/assignments/{assignment_id}/pickup")
async def pickup(assignment_id: UUID, principal: Agent, db: DB) -> Response:
    if db.settings.has_defect("slow_pickup"):
        await defects.slow_pickup()
    async with db.session() as s:
        row = await service.advance(
            s, principal, str(assignment_id), target="PICKED_UP", order_target="SHIPPING"
        )
    return json_response(row)


@router.post("/api/shipping/assignments/{assignment_id}/deliver")
async def deliver(assignment_id: UUID, principal: Agent, db: DB) -> Response:
    async with db.session() as s:
        row = await service.advance(
            s, principal, str(assignment_id), target="DELIVERED", order_target="DELIVERED"
        )
    return json_response(row)
