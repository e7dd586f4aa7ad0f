"""`/openapi.json`: every route with every status it can answer, and the one error body.

FastAPI's generated document knows only "200" and its own 422, which this service never sends
(validation is 400 `VALIDATION_ERROR`, errors.validation_error). The responses are rewritten here
from one table, so a schema-driven client (the fuzz test, tests/integration/test_reference_fuzz.py)
can hold every answer to the published document: any status not listed, or an error without
API.md's body, is a contract break.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}

ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "description": "API.md 'Errors': every error, from any path, has this body",
    "required": ["statusCode", "error", "message", "code", "timestamp", "path"],
    "properties": {
        "statusCode": {"type": "integer"},
        "error": {"type": "string"},
        "message": {"type": "string"},
        "code": {"type": "string"},
        "timestamp": {"type": "string"},
        "path": {"type": "string"},
        "details": {},
        "validationErrors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

ERROR_MEANING = {
    400: "bad input (VALIDATION_ERROR with validationErrors) or a business rule refused it",
    401: "no, malformed, forged or expired bearer token (or bad credentials at login)",
    403: "the caller's role or ownership does not allow it",
    404: "the resource does not exist",
    409: "a conflict: state changed concurrently, already done, Idempotency-Key in use or reused",
    413: "request body above MAX_BODY_BYTES (PAYLOAD_TOO_LARGE), refused before it is read",
    503: "the database did not answer in time (DATABASE_UNAVAILABLE, Retry-After)",
}

CREATED = {
    ("POST", "/api/orders"),
    ("POST", "/api/payments"),
    ("POST", "/api/shipping/assignments"),
    ("POST", "/api/wallets/{wallet_id}/top-up"),
}
LISTS = {("GET", "/api/shipping/assignments")}
HEALTH = {
    "/health/live": (),
    "/health/pool": (),
    "/health/ready": (503,),
    "/health/db": (503,),
}
LOGIN = "/api/auth/login"


def errors_of(method: str, path: str) -> tuple[int, ...]:
    """The error statuses a route can answer (besides its success status)."""
    if path in HEALTH:
        return HEALTH[path]
    writes = method in ("POST", "PATCH", "PUT")
    if path == LOGIN:
        return (400, 401, 413, 503)
    statuses = {400, 401, 403, 404, 503}
    if writes:
        statuses |= {409, 413}
    return tuple(sorted(statuses))


def success_of(method: str, path: str) -> int:
    return 201 if (method, path) in CREATED else 200


def responses_for(method: str, path: str) -> dict[str, Any]:
    success = success_of(method, path)
    body_schema: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
    if (method, path) not in LISTS:
        body_schema = {"type": "object"}
    responses: dict[str, Any] = {
        str(success): {"description": "success", "content": {"application/json": {"schema": body_schema}}}
    }
    if success == 201:
        # an Idempotency-Key replay answers the stored status: 201, or a stored 4xx error
        responses["201"]["headers"] = {
            "Idempotent-Replayed": {"schema": {"type": "string"}, "description": "true on a replay"}
        }
    for status in errors_of(method, path):
        responses[str(status)] = {
            "description": ERROR_MEANING[status],
            "content": {"application/json": {"schema": ERROR_REF}},
        }
    return responses


def install(app: FastAPI) -> None:
    """Serve the rewritten document from `app.openapi()` (FastAPI's `/openapi.json` route)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        schemas["ErrorBody"] = ERROR_BODY
        components["securitySchemes"] = {"bearerAuth": {"type": "http", "scheme": "bearer"}}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                operation["responses"] = responses_for(method.upper(), path)
                if path.startswith("/api/") and path != LOGIN:
                    operation["security"] = [{"bearerAuth": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
