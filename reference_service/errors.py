"""One error type for the whole service and the one set of handlers that turns errors into bodies.

Body (seeds 000/001): `{"statusCode","error","message","code","timestamp","path","details"?,
"validationErrors"?}`. Repositories raise `ApiError` subclasses or let psycopg errors through;
the mapping of PostgreSQL errors to HTTP statuses lives here and nowhere else.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from psycopg import errors as pgerr
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from reference_service.logs import JsonLogger, utc_now_iso
from reference_service.responses import json_response

RETRY_AFTER_S = "1"


class ApiError(Exception):
    """An error with an HTTP status and a stable machine-readable `code`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        validation_errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.validation_errors = validation_errors
        self.headers = headers or {}
        self.extra = extra or {}


def not_found(what: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{what} not found")


def forbidden(message: str = "Forbidden") -> ApiError:
    return ApiError(403, "FORBIDDEN", message)


def bad_request(code: str, message: str, details: Any = None) -> ApiError:
    return ApiError(400, code, message, details=details)


def conflict(code: str, message: str, details: Any = None) -> ApiError:
    return ApiError(409, code, message, details=details)


class DatabaseUnavailable(ApiError):
    """The database did not answer in time, or the pool had no connection to give."""

    def __init__(self, message: str = "Database unavailable, retry later") -> None:
        super().__init__(503, "DATABASE_UNAVAILABLE", message, headers={"Retry-After": RETRY_AFTER_S})


def from_database_error(exc: psycopg.Error) -> ApiError:
    """PostgreSQL errors that escaped the repositories, mapped as seed 001 maps Prisma's."""
    if isinstance(exc, pgerr.UniqueViolation):
        return ApiError(409, "UNIQUE_VIOLATION", "Unique constraint violation")
    if isinstance(exc, pgerr.ForeignKeyViolation):
        return ApiError(400, "FOREIGN_KEY_VIOLATION", "Foreign key constraint violation")
    if isinstance(exc, pgerr.LockNotAvailable):
        return ApiError(409, "LOCK_NOT_AVAILABLE", "The resource is locked by another request")
    if isinstance(exc, pgerr.QueryCanceled):
        return DatabaseUnavailable("Database statement timed out, retry later")
    if isinstance(exc, pgerr.SerializationFailure | pgerr.DeadlockDetected):
        return ApiError(
            409, "SERIALIZATION_CONFLICT", "Concurrent update, retry", headers={"Retry-After": "1"}
        )
    if isinstance(exc, pgerr.CheckViolation | pgerr.NotNullViolation | pgerr.NumericValueOutOfRange):
        return ApiError(400, "CONSTRAINT_VIOLATION", "The request breaks a data constraint")
    if isinstance(exc, psycopg.DataError):
        # the last line of defence: input the validators let through but PostgreSQL cannot store
        # or read (a NUL byte, an out-of-range value) is bad input, 400, never a 500
        return ApiError(400, "INVALID_INPUT", "The request holds a value the database cannot store")
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseUnavailable()
    return ApiError(500, "DATABASE_ERROR", "Database error")


def error_body(exc: ApiError, path: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "statusCode": exc.status,
        "error": _reason(exc.status),
        "message": exc.message,
        "code": exc.code,
        "timestamp": utc_now_iso(),
        "path": path,
    }
    if exc.details is not None:
        body["details"] = exc.details
    if exc.validation_errors is not None:
        body["validationErrors"] = exc.validation_errors
    body.update(exc.extra)
    return body


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "path", "query", "header"):
        parts = parts[1:] or parts
    return ".".join(parts) or "body"


def validation_error(exc: RequestValidationError) -> ApiError:
    errors = [
        {"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))} for e in exc.errors()
    ]
    return ApiError(400, "VALIDATION_ERROR", "Validation failed", validation_errors=errors)


def install(app: FastAPI, log: JsonLogger) -> None:
    """Register the one mapping from every exception the service can raise to an error body."""

    def respond(request: Request, exc: ApiError, *, stack: str | None = None) -> Response:
        level = "error" if exc.status >= 500 else "warn"
        fields: dict[str, Any] = {
            "statusCode": exc.status,
            "code": exc.code,
            "message": exc.message,
            "path": request.url.path,
            "method": request.method,
        }
        user = getattr(request.state, "user_id", None)
        if user:
            fields["userId"] = user
        if stack:
            fields["stack"] = stack
        log.log(level, "http_exception", **fields)
        return json_response(error_body(exc, request.url.path), exc.status, headers=exc.headers)

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return respond(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return respond(request, validation_error(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        message = "Route not found" if exc.status_code == 404 else str(exc.detail)
        return respond(request, ApiError(exc.status_code, code, message, headers=dict(exc.headers or {})))

    async def on_pool_timeout(request: Request, exc: Exception) -> Response:
        return respond(request, DatabaseUnavailable("No database connection available in time"))

    async def on_database(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, psycopg.Error)
        mapped = from_database_error(exc)
        return respond(request, mapped, stack=repr(exc) if mapped.status >= 500 else None)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        import traceback

        stack = "".join(traceback.format_exception(exc))[-4000:]
        return respond(request, ApiError(500, "INTERNAL_ERROR", "Internal server error"), stack=stack)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(PoolTimeout, on_pool_timeout)
    app.add_exception_handler(psycopg.Error, on_database)
    app.add_exception_handler(Exception, on_unexpected)
