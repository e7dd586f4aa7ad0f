"""A tiny in-memory implementation of API.md, for testing the Locust side alone.

Not the system under test: it lets the Locust smoke tests prove the harness mechanics (arrivals,
sample gathering, cross-worker races) without PostgreSQL. Correct under concurrency by one lock.
Run: `python tests/integration/locust_stub_api.py PORT FIXTURES.json`.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOCK = threading.Lock()
USERS: dict[str, dict[str, Any]] = {}
ORDERS: dict[str, dict[str, Any]] = {}
PAYMENTS: dict[str, dict[str, Any]] = {}
ASSIGNMENTS: dict[str, dict[str, Any]] = {}
WALLETS: dict[str, int] = {}
IDEMPOTENCY: dict[tuple[str, str, str], tuple[int, Any]] = {}
NEXT = {
    "PENDING": {"CONFIRMED", "CANCELLED"},
    "CONFIRMED": {"SHIPPING", "CANCELLED"},
    "SHIPPING": {"DELIVERED"},
}


def fixtures(n_buyers: int = 4, n_agents: int = 10) -> dict[str, Any]:
    users = []
    for role, n in (("BUYER", n_buyers), ("SELLER", 2), ("AGENT", n_agents), ("ADMIN", 1)):
        for i in range(n):
            uid = str(uuid.uuid4())
            user = {"id": uid, "role": role, "email": f"{role.lower()}{i}@x", "password": "pw", "token": uid}
            user["walletId"] = str(uuid.uuid4())
            if role == "AGENT":
                user["agentId"] = str(uuid.uuid4())
            users.append(user)
    return {"users": users, "platformWalletId": str(uuid.uuid4())}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str) -> None:
        self._send(
            status, {"statusCode": status, "error": code, "message": code, "code": code, "path": self.path}
        )

    def _route(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null") if length else None
        if self.path.startswith("/health"):
            return self._send(200, {"status": "ok"})
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        user = USERS.get(token)
        if user is None:
            return self._error(401, "UNAUTHORIZED")
        path = self.path.split("?")[0]
        key = self.headers.get("Idempotency-Key")
        with LOCK:
            if key and (method, path, key) in IDEMPOTENCY:
                status, stored = IDEMPOTENCY[(method, path, key)]
                return self._send(status, stored, {"Idempotent-Replayed": "true"})
            status, out = self._handle(method, path, body or {}, user)
            if key and status < 500:
                IDEMPOTENCY[(method, path, key)] = (status, out)
        if status >= 400:
            return self._error(status, out["code"])
        return self._send(status, out)

    def _handle(self, method: str, path: str, body: dict[str, Any], user: dict[str, Any]) -> tuple[int, Any]:
        if (method, path) == ("POST", "/api/orders"):
            total = sum(i["quantity"] * i["unitPriceCents"] for i in body["items"])
            order = {"id": str(uuid.uuid4()), "buyerId": user["id"], "sellerId": body["sellerId"]}
            order.update(status="PENDING", totalCents=total)
            ORDERS[order["id"]] = order
            return 201, order
        if m := re.fullmatch(r"/api/orders/([^/]+)", path):
            order = ORDERS[m[1]]
            if method == "PATCH":
                if body["status"] not in NEXT.get(order["status"], set()):
                    return 400, {"code": "INVALID_STATUS_TRANSITION"}
                order["status"] = body["status"]
            return 200, order
        if (method, path) == ("POST", "/api/payments"):
            order = ORDERS[body["orderId"]]
            p = {"id": str(uuid.uuid4()), "orderId": order["id"], "amountCents": order["totalCents"]}
            p["lifecycle"] = "INITIATED"
            PAYMENTS[p["id"]] = p
            return 201, p
        if m := re.fullmatch(r"/api/payments/([^/]+)/capture", path):
            p = PAYMENTS[m[1]]
            if p["lifecycle"] == "CAPTURED":
                return 409, {"code": "PAYMENT_ALREADY_CAPTURED"}
            wallet = USERS[ORDERS[p["orderId"]]["buyerId"]]["walletId"]
            if WALLETS[wallet] < p["amountCents"]:
                return 400, {"code": "INSUFFICIENT_FUNDS"}
            WALLETS[wallet] -= p["amountCents"]
            p["lifecycle"] = "CAPTURED"
            return 200, p
        if m := re.fullmatch(r"/api/wallets/([^/]+)(/top-up)?", path):
            if m[2]:
                WALLETS[m[1]] += body["amountCents"]
                return 201, {"id": str(uuid.uuid4())}
            return 200, {"id": m[1], "balanceCents": WALLETS[m[1]]}
        if path == "/api/shipping/assignments":
            if method == "GET":
                return 200, [a for a in ASSIGNMENTS.values() if a["status"] == "OPEN"][:20]
            a = {"id": str(uuid.uuid4()), "orderId": body["orderId"], "status": "OPEN", "agentId": None}
            ASSIGNMENTS[a["id"]] = a
            return 201, a
        if m := re.fullmatch(r"/api/shipping/assignments/([^/]+)/(accept|pickup|deliver)", path):
            a = ASSIGNMENTS[m[1]]
            if m[2] == "accept":
                if a["status"] != "OPEN":
                    return 409, {"code": "ASSIGNMENT_TAKEN"}
                a.update(status="ACCEPTED", agentId=user.get("agentId"))
            else:
                a["status"] = "PICKED_UP" if m[2] == "pickup" else "DELIVERED"
            return 200, a
        if path.startswith("/api/admin/agents/"):
            return 200, {"agents": []}
        return 404, {"code": "NOT_FOUND"}

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PATCH(self) -> None:
        self._route("PATCH")


def main() -> None:
    port, fixtures_path = int(sys.argv[1]), sys.argv[2]
    with open(fixtures_path) as f:
        doc = json.load(f)
    for u in doc["users"]:
        USERS[u["token"]] = u
        WALLETS[u["walletId"]] = 1_000_000 if u["role"] == "BUYER" else 0
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
