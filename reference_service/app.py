"""The ASGI application: routers, the one error mapping, request logging, pool lifecycle."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_service import errors, openapi
from reference_service.body_limit import BodyLimit
from reference_service.config import Settings
from reference_service.db import Database
from reference_service.logs import JsonLogger
from reference_service.routes import admin, auth, health, orders, payments, shipping, wallets


class RequestLog:
    """One `http_request_completed` per request, with the route *template* (not the raw path)."""

    def __init__(self, app: ASGIApp, log: JsonLogger) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.log.info(
                "http_request_completed",
                method=scope["method"],
                route=template,
                status=status,
                duration=round((time.perf_counter() - start) * 1000, 2),
            )


def create_app(
    settings: Settings, log: JsonLogger | None = None, server: dict[str, str] | None = None
) -> FastAPI:
    log = log or JsonLogger(settings.log_file)
    db = Database(settings, log)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await db.open()
        log.info(
            "service_started",
            safeguardsOff=sorted(settings.safeguards_off),
            defects=sorted(settings.defects),
            poolMin=settings.pool_min_size,
            poolMax=settings.pool_max_size,
            server=server or {},
        )
        try:
            yield
        finally:
            await db.close()
            log.info("service_stopped")
            log.close()

    app = FastAPI(
        title="loadgate reference service",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.db = db
    app.state.log = log
    errors.install(app, log)
    for module in (health, auth, orders, payments, wallets, shipping, admin):
        app.include_router(module.router)
    openapi.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLog, log=log)  # outermost: a 413 is logged like any answer
    return app


def app_factory() -> Any:
    """For `uvicorn --factory reference_service.app:app_factory`."""
    from reference_service.config import load

    return create_app(load())
