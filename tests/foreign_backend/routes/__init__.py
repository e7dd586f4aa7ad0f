"""The route table: every path of API.md, with who may call it."""

from __future__ import annotations

from tests.foreign_backend.routes import admin, auth, health, orders, payments, shipping, wallets
from tests.foreign_backend.web import Route, route

ROUTES: list[Route] = [
    route("POST", "/api/auth/login", auth.login, roles=None),
    route("POST", "/api/orders", orders.create, roles=("BUYER",)),
    route("GET", "/api/orders/{id}", orders.get),
    route("PATCH", "/api/orders/{id}", orders.patch),
    route("POST", "/api/payments", payments.initiate, roles=("BUYER",)),
    route("POST", "/api/payments/{id}/capture", payments.capture, roles=("BUYER", "ADMIN")),
    route("GET", "/api/wallets/{id}", wallets.get),
    route("POST", "/api/wallets/{id}/top-up", wallets.top_up, roles=("ADMIN",)),
    route("POST", "/api/shipping/assignments", shipping.create, roles=("ADMIN", "SELLER")),
    route("GET", "/api/shipping/assignments", shipping.list_jobs, roles=("AGENT",)),
    route("POST", "/api/shipping/assignments/{id}/accept", shipping.accept, roles=("AGENT",)),
    route("POST", "/api/shipping/assignments/{id}/pickup", shipping.pickup, roles=("AGENT",)),
    route("POST", "/api/shipping/assignments/{id}/deliver", shipping.deliver, roles=("AGENT",)),
    route("GET", "/api/admin/agents/leaderboard", admin.leaderboard, roles=("ADMIN",)),
    route("GET", "/api/admin/agents/metrics/{agentId}", admin.agent_metrics, roles=("ADMIN",)),
    route("GET", "/api/admin/agents/sla-summary", admin.sla_summary, roles=("ADMIN",)),
    route("GET", "/health/live", health.live, roles=None),
    route("GET", "/health/ready", health.ready, roles=None),
    route("GET", "/health/db", health.db, roles=None),
    route("GET", "/health/pool", health.pool, roles=None),
]
