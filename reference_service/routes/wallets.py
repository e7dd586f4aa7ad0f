"""Wallets: balance read, admin top-up."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from starlette.responses import Response

from reference_service.auth import Role
from reference_service.errors import ApiError, forbidden, not_found
from reference_service.models import TopUpBody
from reference_service.repositories import wallets as repo
from reference_service.responses import json_response
from reference_service.routes.deps import DB, Admin, AnyUser

router = APIRouter()


@router.get("/api/wallets/{wallet_id}")
async def get_wallet(wallet_id: UUID, principal: AnyUser, db: DB) -> Response:
    async with db.session() as s:
        wallet = await repo.get(s, str(wallet_id))
    if wallet is None:
        raise not_found("Wallet")
    if principal.role is not Role.ADMIN and str(wallet["ownerId"]) != principal.user_id:
        raise forbidden("This wallet belongs to someone else")
    return json_response(
        {
            "id": wallet["id"],
            "ownerId": wallet["ownerId"],
            "kind": wallet["kind"],
            "balanceCents": wallet["balanceCents"],
        }
    )


@router.post("/api/wallets/{wallet_id}/top-up")
async def top_up(
    wallet_id: UUID,
    body: TopUpBody,
    principal: Admin,
    db: DB,
) -> Response:
    async with db.session() as s:
        external = await repo.system_wallet(s, "EXTERNAL")
        if external is None:
            raise ApiError(500, "EXTERNAL_WALLET_MISSING", "The external funding wallet is not seeded")
        row = await repo.top_up(s, str(wallet_id), external, body.amountCents)
        if row is None or row["walletId"] is None:
            raise not_found("Wallet")
        balance = await repo.balance(s, str(wallet_id))
    return json_response(
        {
            "id": row["topUpId"],
            "walletId": row["walletId"],
            "amountCents": row["amountCents"],
            "balanceCents": balance,
        },
        201,
    )
