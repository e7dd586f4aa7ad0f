"""Health endpoints, without authentication."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from tests.foreign_backend.errors import ApiError, from_exception, now_iso
from tests.foreign_backend.web import Reply, Request

if TYPE_CHECKING:
    from tests.foreign_backend.app import App


def _ping_ms(app: App) -> float:
    """Round trip of `SELECT 1` in ms; a 503 error body with status "unhealthy" when it fails."""
    started = time.perf_counter()
    try:
        with app.db.connection() as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        err = from_exception(exc)
        if err.status != 503:
            err = ApiError(503, "DATABASE_UNAVAILABLE", "Database unavailable", headers={"Retry-After": "1"})
        raise err from None
    return round((time.perf_counter() - started) * 1000, 2)


def live(app: App, req: Request) -> Reply:
    return Reply(
        200,
        {"status": "alive", "pid": os.getpid(), "bugs": sorted(app.settings.bugs), "timestamp": now_iso()},
    )


def ready(app: App, req: Request) -> Reply:
    _ping_ms(app)
    return Reply(200, {"status": "ready", "timestamp": now_iso()})


def db(app: App, req: Request) -> Reply:
    latency = _ping_ms(app)
    return Reply(200, {"status": "healthy", "latencyMs": latency, "timestamp": now_iso()})


def pool(app: App, req: Request) -> Reply:
    stats = app.db.stats()
    return Reply(
        200, {"status": "saturated" if stats["waiting"] else "healthy", "pool": stats, "timestamp": now_iso()}
    )
