"""POST /api/auth/login."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.responses import Response

from reference_service.auth import Principal, Role, check_password, issue_token
from reference_service.errors import ApiError
from reference_service.models import LoginBody
from reference_service.responses import json_response
from reference_service.routes.deps import DB

router = APIRouter()


@router.post("/api/auth/login")
async def login(body: LoginBody, db: DB) -> Response:
    async with db.session() as s:
        user = await s.one(
            """SELECT u.id, u.role, u.password_hash, a.id AS agent_id, w.id AS wallet_id FROM users u
               LEFT JOIN delivery_agents a ON a.user_id = u.id
               LEFT JOIN wallets w ON w.owner_id = u.id WHERE u.email = %s""",
            (body.email.lower(),),
            op="users.by_email",
        )
    # Hash off the event loop: PBKDF2 is CPU work that would stall every other request.
    if user is None or not await asyncio.to_thread(check_password, body.password, user["password_hash"]):
        raise ApiError(401, "INVALID_CREDENTIALS", "Invalid email or password")
    principal = Principal(
        str(user["id"]), Role(user["role"]), str(user["agent_id"]) if user["agent_id"] else None
    )
    token = issue_token(db.settings.token_secret, principal, ttl_s=db.settings.token_ttl_s)
    body_out: dict[str, object] = {"id": principal.user_id, "role": principal.role.value}
    if principal.agent_id:
        body_out["agentId"] = principal.agent_id
    # Not in API.md's example, harmless to clients: the only way a harness can learn a user's wallet.
    if user["wallet_id"]:
        body_out["walletId"] = str(user["wallet_id"])
    return json_response({"accessToken": token, "user": body_out})
