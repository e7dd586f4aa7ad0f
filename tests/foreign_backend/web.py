"""The small web layer over http.server: requests, replies, routing and the role rules."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from email.message import Message
from typing import Any

from tests.foreign_backend.auth import Principal
from tests.foreign_backend.errors import ApiError, invalid


def _default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def dumps(body: Any) -> str:
    """JSON text for a reply body (UUIDs and timestamps as strings)."""
    return json.dumps(body, default=_default, separators=(",", ":"))


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query: dict[str, str]
    headers: Message
    raw_body: bytes
    params: dict[str, str] = field(default_factory=dict)
    principal: Principal | None = None

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; 400 when it is not one."""
        try:
            body = json.loads(self.raw_body or b"null")
        except ValueError:
            raise invalid("body", "must be JSON") from None
        if not isinstance(body, dict):
            raise invalid("body", "must be a JSON object")
        return body

    def uuid_param(self, name: str) -> str:
        """A path parameter that must be a UUID (400 otherwise)."""
        return parse_uuid(self.params[name], name)

    @property
    def user(self) -> Principal:
        assert self.principal is not None, "route declared public but reads the caller"
        return self.principal


@dataclass
class Reply:
    """What a handler answers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Any, Request], Reply]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    roles: Sequence[str] | None  # None: no authentication


def route(method: str, template: str, handler: Handler, roles: Sequence[str] | None = ()) -> Route:
    """`/api/orders/{id}` -> a Route; `roles=()` means any authenticated user, None means public."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(method, re.compile(f"^{regex}$"), handler, roles)


def parse_uuid(value: Any, field_name: str) -> str:
    """`value` as a canonical UUID string; 400 VALIDATION_ERROR otherwise."""
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError):
        raise invalid(field_name, "must be a UUID") from None


def strict_int(body: dict[str, Any], name: str, *, minimum: int, maximum: int = 10**11) -> int:
    """An integer field (not a bool, not a string) within bounds; 400 otherwise."""
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise invalid(name, f"must be an integer between {minimum} and {maximum}")
    return value


def match(routes: Sequence[Route], method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for `method path`; 404 for an unknown path, 405 for a known path with another method."""
    path_known = False
    for r in routes:
        m = r.pattern.match(path)
        if m is None:
            continue
        path_known = True
        if r.method == method:
            return r, m.groupdict()
    if path_known:
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {path}")
    raise ApiError(404, "NOT_FOUND", "Route not found")
