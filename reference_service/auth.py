"""Stateless HMAC-signed bearer tokens and password hashing.

Tokens carry the user id, role and (for agents) the delivery agent id, signed with TOKEN_SECRET:
no database round trip per request, and the seeder can write valid tokens into the fixtures file.
Format: `base64url(json payload) "." base64url(HMAC-SHA256(payload))`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
from fastapi import Request

from reference_service.config import DEFAULT_TOKEN_TTL_S
from reference_service.errors import ApiError

PBKDF2_ITERATIONS = 5_000


class Role(StrEnum):
    BUYER = "BUYER"
    SELLER = "SELLER"
    AGENT = "AGENT"
    ADMIN = "ADMIN"


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role
    agent_id: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(
    secret: str, principal: Principal, *, now: float | None = None, ttl_s: float = DEFAULT_TOKEN_TTL_S
) -> str:
    issued = now if now is not None else time.time()
    claims: dict[str, Any] = {"sub": principal.user_id, "role": principal.role.value, "iat": int(issued)}
    claims["exp"] = round(issued + ttl_s, 3)  # fractional: a test may give tokens a 2 s life
    if principal.agent_id:
        claims["agentId"] = principal.agent_id
    payload = _b64(orjson.dumps(claims))
    signature = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(signature)}"


def verify_token(secret: str, token: str, *, now: float | None = None) -> Principal | None:
    """The token's principal, or None when it is malformed, forged or expired."""
    payload, _, signature = token.partition(".")
    if not payload or not signature:
        return None
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _unb64(signature)):
            return None
        claims = orjson.loads(_unb64(payload))
        role = Role(claims["role"])
        if float(claims["exp"]) < (now if now is not None else time.time()):
            return None
        return Principal(str(claims["sub"]), role, claims.get("agentId"))
    except (ValueError, KeyError, TypeError):
        return None


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ITERATIONS)
    return f"pbkdf2_sha256${PBKDF2_ITERATIONS}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    actual = hashlib.pbkdf2_hmac("sha256", password.encode(), _unb64(salt), int(iterations))
    return hmac.compare_digest(actual, _unb64(digest))


def unauthorized(message: str = "Missing or invalid bearer token") -> ApiError:
    return ApiError(401, "UNAUTHORIZED", message, headers={"WWW-Authenticate": "Bearer"})


def principal_of(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized()
    principal = verify_token(request.app.state.settings.token_secret, token.strip())
    if principal is None:
        raise unauthorized()
    request.state.user_id = principal.user_id
    return principal


def require(*roles: Role) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A FastAPI dependency: the caller's principal, 401 without a valid token, 403 for other roles."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        principal = principal_of(request)
        if allowed and principal.role not in allowed:
            raise ApiError(403, "FORBIDDEN", f"Role {principal.role.value} may not do this")
        return principal

    return dependency
