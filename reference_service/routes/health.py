"""Health endpoints (seed 001 Phase 5), without authentication."""

from __future__ import annotations

import os
import time

from fastapi import APIRouter
from starlette.responses import Response

from reference_service.db import Database
from reference_service.errors import DatabaseUnavailable
from reference_service.logs import utc_now_iso
from reference_service.responses import json_response
from reference_service.routes.deps import DB

router = APIRouter(prefix="/health")


@router.get("/live")
async def live(db: DB) -> Response:
    return json_response(
        {
            "status": "alive",
            "pid": os.getpid(),
            "safeguardsOff": sorted(db.settings.safeguards_off),
            "timestamp": utc_now_iso(),
        }
    )


async def _ping(db: Database) -> float:
    start = time.perf_counter()
    async with db.session() as s:
        await s.one("SELECT 1 AS ok", op="health.ping")
    return round((time.perf_counter() - start) * 1000, 2)


def _unhealthy(exc: DatabaseUnavailable) -> DatabaseUnavailable:
    exc.extra = {"status": "unhealthy"}
    return exc


@router.get("/ready")
async def ready(db: DB) -> Response:
    try:
        await _ping(db)
    except DatabaseUnavailable as exc:
        raise _unhealthy(exc) from None
    return json_response({"status": "ready", "timestamp": utc_now_iso()})


@router.get("/db")
async def db_health(db: DB) -> Response:
    try:
        latency = await _ping(db)
    except DatabaseUnavailable as exc:
        raise _unhealthy(exc) from None
    return json_response({"status": "healthy", "latencyMs": latency, "timestamp": utc_now_iso()})


@router.get("/pool")
async def pool(db: DB) -> Response:
    stats = db.stats()
    status = "saturated" if stats["waiting"] > 0 else "healthy"
    return json_response({"status": status, "pool": stats, "timestamp": utc_now_iso()})
