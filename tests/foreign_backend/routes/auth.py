"""POST /api/auth/login: a fresh opaque token, and the ids the harness discovers over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.foreign_backend.auth import check_password, issue_token
from tests.foreign_backend.db import one
from tests.foreign_backend.errors import ApiError, invalid
from tests.foreign_backend.web import Reply, Request

if TYPE_CHECKING:
    from tests.foreign_backend.app import App


def login(app: App, req: Request) -> Reply:
    body = req.json()
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not 3 <= len(email) <= 254:
        raise invalid("email", "must be a string of 3-254 characters")
    if not isinstance(password, str) or not 1 <= len(password) <= 200:
        raise invalid("password", "must be a string of 1-200 characters")
    with app.db.connection() as conn:
        member = one(
            conn,
            """SELECT m.id, m.role, m.pass_hash, c.id AS courier_id, p.id AS purse_id FROM members m
               LEFT JOIN couriers c ON c.member_id = m.id
               LEFT JOIN purses p ON p.member_id = m.id
               WHERE m.email = %s""",
            (email.strip().lower(),),
        )
        if member is None or not check_password(password, str(member["pass_hash"])):
            raise ApiError(401, "INVALID_CREDENTIALS", "Invalid email or password")
        token = issue_token(conn, str(member["id"]), app.settings.token_ttl_s)
    user: dict[str, Any] = {"id": member["id"], "role": member["role"]}
    if member["purse_id"]:
        user["walletId"] = member["purse_id"]
    if member["courier_id"]:
        user["agentId"] = member["courier_id"]
    return Reply(200, {"accessToken": token, "expiresIn": app.settings.token_ttl_s, "user": user})
