"""The one error type and the documented error body; PostgreSQL failures mapped to statuses."""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import psycopg
from psycopg import errors as pgerr
from psycopg_pool import PoolTimeout

RETRY_AFTER_S = "1"


def now_iso() -> str:
    """UTC now, ISO 8601 with milliseconds and a Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ApiError(Exception):
    """An HTTP error with a stable machine-readable `code`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        validation_errors: list[dict[str, str]] | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.validation_errors = validation_errors
        self.details = details

    def body(self, path: str) -> dict[str, Any]:
        """`{"statusCode","error","message","code","timestamp","path"}` plus the optional fields."""
        try:
            reason = HTTPStatus(self.status).phrase
        except ValueError:
            reason = "Error"
        out: dict[str, Any] = {
            "statusCode": self.status,
            "error": reason,
            "message": self.message,
            "code": self.code,
            "timestamp": now_iso(),
            "path": path,
        }
        if self.details is not None:
            out["details"] = self.details
        if self.validation_errors is not None:
            out["validationErrors"] = self.validation_errors
        return out


def not_found(what: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{what} not found")


def forbidden(message: str = "Forbidden") -> ApiError:
    return ApiError(403, "FORBIDDEN", message)


def invalid(field: str, message: str) -> ApiError:
    """400 VALIDATION_ERROR naming the one bad field."""
    return ApiError(
        400,
        "VALIDATION_ERROR",
        "Validation failed",
        validation_errors=[{"field": field, "message": message}],
    )


def unavailable(message: str = "Database unavailable, retry later") -> ApiError:
    """503 with Retry-After: the database did not answer in time."""
    return ApiError(503, "DATABASE_UNAVAILABLE", message, headers={"Retry-After": RETRY_AFTER_S})


def from_exception(exc: BaseException) -> ApiError:
    """Any exception a handler let through, as the error the client should see."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, PoolTimeout):
        return unavailable("No database connection available in time")
    if isinstance(exc, pgerr.QueryCanceled):
        return unavailable("Database statement timed out, retry later")
    if isinstance(exc, pgerr.SerializationFailure | pgerr.DeadlockDetected):
        return ApiError(
            409, "SERIALIZATION_CONFLICT", "Concurrent update, retry", headers={"Retry-After": "1"}
        )
    if isinstance(exc, pgerr.UniqueViolation):
        return ApiError(409, "UNIQUE_VIOLATION", "Unique constraint violation")
    if isinstance(exc, pgerr.ForeignKeyViolation):
        return ApiError(400, "FOREIGN_KEY_VIOLATION", "A referenced record does not exist")
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return unavailable()
    return ApiError(500, "INTERNAL_ERROR", "Internal server error")
