"""Orders: create (Idempotency-Key), read, change status."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Request
from starlette.responses import Response

from reference_service import defects, idempotency
from reference_service.db import Session
from reference_service.models import CreateOrderBody, UpdateOrderBody
from reference_service.repositories import orders as orders_repo
from reference_service.responses import json_response
from reference_service.routes.deps import DB, AnyUser, Buyer, OrderEditor
from reference_service.services import orders as service

router = APIRouter()


@router.post("/api/orders")
async def create_order(
    request: Request,
    body: CreateOrderBody,
    principal: Buyer,
    db: DB,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    payload = body.model_dump(mode="json")

    async def handler(s: Session) -> tuple[int, Any]:
        return await service.create(s, principal, payload, idempotency_key)

    if db.settings.has_defect("ack_before_commit"):
        return await defects.ack_before_commit(db, handler)
    return await idempotency.run(
        db,
        key=idempotency_key,
        principal=principal,
        method="POST",
        path=request.url.path,
        payload=payload,
        handler=handler,
    )


@router.get("/api/orders/{order_id}")
async def get_order(order_id: UUID, principal: AnyUser, db: DB) -> Response:
    async with db.session() as s:
        order = await service.get(s, principal, str(order_id))
    return json_response(order)


@router.get("/api/orders/{order_id}/history")
async def get_order_history(order_id: UUID, principal: AnyUser, db: DB) -> Response:
    async with db.session() as s:
        await service.get(s, principal, str(order_id))
        steps = await orders_repo.history(s, str(order_id))
    return json_response({"orderId": str(order_id), "history": steps})


@router.patch("/api/orders/{order_id}")
async def update_order(
    order_id: UUID,
    body: UpdateOrderBody,
    principal: OrderEditor,
    db: DB,
) -> Response:
    guarded = db.settings.safeguard_on("order_status_lock")
    async with db.session() as s:
        order = await service.change_status(
            s,
            principal,
            str(order_id),
            body.status,
            guarded=guarded,
            log=db.log,
            keep_money=db.settings.has_defect("cancel_keeps_money"),
        )
    return json_response(order)
