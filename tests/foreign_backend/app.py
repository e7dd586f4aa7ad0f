"""The application: settings, database, log, and dispatch of one request to its route."""

from __future__ import annotations

import logging
from typing import Any

from tests.foreign_backend import dialect
from tests.foreign_backend.auth import principal_for
from tests.foreign_backend.config import Settings
from tests.foreign_backend.db import Database
from tests.foreign_backend.errors import ApiError, forbidden, from_exception
from tests.foreign_backend.routes import ROUTES
from tests.foreign_backend.web import Reply, Request, match


class App:
    """Everything a route handler needs."""

    def __init__(self, settings: Settings, log: logging.Logger) -> None:
        self.settings = settings
        self.log = log
        self.db = Database(settings)
        self._platform_purse: str | None = None

    def platform_purse(self) -> str:
        """The PLATFORM purse's id (looked up once)."""
        if self._platform_purse is None:
            with self.db.connection() as conn:
                row = conn.execute("SELECT id FROM purses WHERE kind = 'PLATFORM'").fetchone()
            if row is None:
                raise ApiError(500, "PLATFORM_PURSE_MISSING", "The platform purse is not seeded")
            self._platform_purse = str(row["id"])
        return self._platform_purse

    def dispatch(self, req: Request) -> Reply:
        """The reply to `req`, in the dialect the server was started with."""
        if self.settings.dialect == "alt":
            return dialect.dispatch(self._dispatch, req)
        return self._dispatch(req)

    def _dispatch(self, req: Request) -> Reply:
        """The reply to an API.md request: every failure becomes the documented error body."""
        try:
            r, req.params = match(ROUTES, req.method, req.path)
            if r.roles is not None:
                req.principal = self._authenticate(req)
                if r.roles and req.principal.role not in r.roles:
                    raise forbidden(f"{req.method} {req.path} needs role {' or '.join(r.roles)}")
            return r.handler(self, req)
        except Exception as exc:
            err = from_exception(exc)
            if err.status >= 500:
                self.log.error("%s %s failed: %r", req.method, req.path, exc)
            return Reply(err.status, err.body(req.path), err.headers)

    def _authenticate(self, req: Request) -> Any:
        header = req.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "UNAUTHORIZED", "Missing bearer token")
        with self.db.connection() as conn:
            principal = principal_for(conn, token.strip())
        if principal is None:
            raise ApiError(401, "UNAUTHORIZED", "Invalid or expired token")
        return principal
