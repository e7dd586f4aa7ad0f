"""Payments: initiate, capture (Idempotency-Key)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Request
from starlette.responses import Response

from reference_service import idempotency
from reference_service.db import Session
from reference_service.models import CreatePaymentBody
from reference_service.responses import json_response
from reference_service.routes.deps import DB, Buyer, BuyerOrAdmin
from reference_service.services import payments as service

router = APIRouter()


@router.post("/api/payments")
async def initiate_payment(body: CreatePaymentBody, principal: Buyer, db: DB) -> Response:
    async with db.session() as s:
        status, payment = await service.initiate(s, principal, str(body.orderId), body.method)
    return json_response(payment, status)


@router.post("/api/payments/{payment_id}/capture")
async def capture_payment(
    request: Request,
    payment_id: UUID,
    principal: BuyerOrAdmin,
    db: DB,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    async def handler(s: Session) -> tuple[int, Any]:
        return await service.capture(db, s, principal, str(payment_id))

    return await idempotency.run(
        db,
        key=idempotency_key,
        principal=principal,
        method="POST",
        path=request.url.path,
        payload={"paymentId": str(payment_id)},
        handler=handler,
    )
