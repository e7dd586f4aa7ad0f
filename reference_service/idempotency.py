"""The Idempotency-Key protocol for POST /api/orders and POST /api/payments/{id}/capture.

Safeguard on: the key row is inserted IN_PROGRESS *before* the work, and the primary key decides
which of concurrent duplicates does the work; the others get 409 IDEMPOTENCY_KEY_IN_PROGRESS or,
once it is done, a replay of the stored response (`Idempotent-Replayed: true`).
Keys are scoped per user (primary key `(user_id, key)`): another user's request with the same key
is a new request.
Safeguard off (`idempotency`): look the key up, do the work, then insert the key ON CONFLICT DO
NOTHING: concurrent duplicates all miss the look-up and each does the work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.responses import Response

from reference_service.auth import Principal
from reference_service.db import Database, Session
from reference_service.errors import ApiError, error_body
from reference_service.repositories import idempotency as repo
from reference_service.responses import json_response

Handler = Callable[[Session], Awaitable[tuple[int, Any]]]
MAX_KEY_LENGTH = 255


def fingerprint(method: str, path: str, payload: Any, user_id: str) -> str:
    canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), canonical, user_id.encode()):
        digest.update(part)
        digest.update(b"\x00")
    return digest.hexdigest()


def _decide(found: Any, fp: str) -> Response:
    if found["fingerprint"] != fp:
        raise ApiError(409, "IDEMPOTENCY_KEY_REUSED", "Idempotency-Key was used with another request")
    if found["status"] != "COMPLETED":
        raise ApiError(
            409,
            "IDEMPOTENCY_KEY_IN_PROGRESS",
            "A request with this Idempotency-Key is still being processed",
            headers={"Retry-After": "1"},
        )
    return json_response(found["response_body"], found["response_status"], {"Idempotent-Replayed": "true"})


async def _outcome(handler: Handler, s: Session, path: str) -> tuple[int, Any]:
    """The handler's response, with business errors (4xx) turned into storable responses."""
    try:
        return await handler(s)
    except ApiError as exc:
        if exc.status >= 500 or (exc.status == 409 and exc.code == "SERIALIZATION_CONFLICT"):
            raise
        return exc.status, error_body(exc, path)


async def run(
    db: Database,
    *,
    key: str | None,
    principal: Principal,
    method: str,
    path: str,
    payload: Any,
    handler: Handler,
) -> Response:
    """Run `handler` at most once per key (when the safeguard is on) and answer its response."""
    if key is None:
        async with db.session() as s:
            status, body = await handler(s)
        return json_response(body, status)
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ApiError(
            400,
            "VALIDATION_ERROR",
            "Invalid Idempotency-Key",
            validation_errors=[
                {
                    "field": "Idempotency-Key",
                    "message": f"must be 1-{MAX_KEY_LENGTH} printable characters",
                }
            ],
        )
    fp = fingerprint(method, path, payload, principal.user_id)
    async with db.session() as s:
        if db.settings.safeguard_on("idempotency"):
            if not await repo.claim(s, key, principal.user_id, method, path, fp):
                found = await repo.find(s, key, principal.user_id)
                if found is None:  # expired between the two statements
                    raise ApiError(409, "IDEMPOTENCY_KEY_IN_PROGRESS", "Retry", headers={"Retry-After": "1"})
                return _decide(found, fp)
            await s.race_window()
            try:
                status, body = await _outcome(handler, s, path)
            except BaseException:
                await _release_quietly(db, key, principal.user_id)
                raise
            await repo.complete(s, key, principal.user_id, status, body)
        else:
            found = await repo.find(s, key, principal.user_id)
            if found is not None:
                return _decide(found, fp)
            await s.race_window()
            status, body = await _outcome(handler, s, path)
            await repo.insert_completed(s, key, principal.user_id, method, path, fp, status, body)
    return json_response(body, status)


async def _release_quietly(db: Database, key: str, user_id: str) -> None:
    try:
        async with db.session() as s:
            await repo.release(s, key, user_id)
    except Exception:
        pass
