"""Target profiles: what each step of the flows and race drivers sends, and how its answer is read.

A profile is one Python module that defines `PROFILE = Profile(...)` (docs/profiles.md). The flows,
the race drivers, the logins and the HTTP reconciliation never spell a path, a body or an error
code: they ask the profile's `Step` for it. API.md's profile (`locustfiles/profiles/api_md.py`) is
the default.

Resolved once per process (`load_profile`, cached); a request then costs one `path.format`, one
body function call and one id read, as the hard-coded flows did. This module imports nothing from
Locust or gevent, so the harness (`harness profile check`) can use the same steps over httpx.

Step arguments (the keys a step's `path` and `body` may use; docs/profiles.md lists them):

    login              email, password                         read -> access token
                       (and the Profile's read_user: who logged in, for `--users`)
    create_order       seller_id, sku, quantity, unit_price_cents, shipping_zip
                                                               read -> order total (cents)
    initiate_payment   order_id
    capture            payment_id
    top_up             wallet_id, amount_cents
    read_wallet        wallet_id                               read -> balance (cents)
    change_status      order_id, status (an API.md status: CONFIRMED, SHIPPING, DELIVERED, CANCELLED)
    open_assignment    order_id, candidate_agent_ids
    list_assignments   (none)
    accept, pickup, deliver   assignment_id
    leaderboard, sla_summary  (none)
    agent_metrics      agent_id
    read_order         order_id                                read -> OrderView
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_PROFILE = "locustfiles.profiles.api_md"

# API.md's error codes: a profile maps its backend's codes onto these, so retries, race outcomes,
# reports and thresholds read one vocabulary whatever the backend calls them.
DOCUMENTED_CODES = (
    "UNAUTHORIZED",
    "FORBIDDEN",
    "NOT_FOUND",
    "VALIDATION_ERROR",
    "INSUFFICIENT_FUNDS",
    "PAYMENT_ALREADY_CAPTURED",
    "INVALID_STATUS_TRANSITION",
    "ORDER_STATUS_CONFLICT",
    "ASSIGNMENT_TAKEN",
    "ASSIGNMENT_LOCKED",
    "IDEMPOTENCY_KEY_REUSED",
    "IDEMPOTENCY_KEY_IN_PROGRESS",
    "DATABASE_UNAVAILABLE",
)


def field_reader(*path: str) -> Callable[[Any], Any]:
    """A reader of `body[path[0]][path[1]]...`, None where the answer has no such field."""

    def read(body: Any) -> Any:
        for key in path:
            if not isinstance(body, dict):
                return None
            body = body.get(key)
        return body

    return read


def id_reader(*path: str) -> Callable[[Any], str | None]:
    """A reader of an id field (as a string), None when absent or empty."""
    read = field_reader(*path)

    def read_id(body: Any) -> str | None:
        value = read(body)
        return str(value) if value not in (None, "") else None

    return read_id


@dataclass(frozen=True)
class OrderView:
    """What reconciliation needs from one order's answer: the ids it shows."""

    id: str | None
    payment_id: str | None = None
    captured: bool = False
    assignment_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """One request: what to send, and how to read the answer.

    `name` is the request's name in every report (default `METHOD path`); `path` and `body` are
    filled from the step's arguments; `refusals` are the statuses of a documented "no" in a race
    (a lost accept, a refused transition): counted as answered, not as errors, in Locust's stats.
    """

    method: str
    path: str
    name: str = ""
    body: Callable[[Mapping[str, Any]], Any] | None = None
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    read_id: Callable[[Any], str | None] = field(default=id_reader("id"))
    read: Callable[[Any], Any] | None = None
    refusals: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", f"{self.method} {self.path}")

    def url(self, args: Mapping[str, Any]) -> str:
        """The path with the arguments filled in, plus the query."""
        path = self.path.format_map(args) if "{" in self.path else self.path
        return f"{path}?{self.query}" if self.query else path

    def json(self, args: Mapping[str, Any]) -> Any:
        return self.body(args) if self.body is not None else None


def read_code(body: Any) -> str:
    """API.md's error body: `{"code": ...}`."""
    return str(body.get("code") or "") if isinstance(body, dict) else ""


def read_login_user(body: Any) -> Any:
    """API.md's login answer: `{"accessToken", "user": {"id", "role", "walletId"?, "agentId"?}}`."""
    return body.get("user") if isinstance(body, dict) else None


def bearer(token: str) -> tuple[str, str]:
    return "Authorization", f"Bearer {token}"


@dataclass(frozen=True)
class Profile:
    """Every step the flows, race drivers and reconciliation need, plus the answer-wide rules."""

    name: str
    login: Step
    create_order: Step
    initiate_payment: Step
    capture: Step
    top_up: Step
    read_wallet: Step
    change_status: Step
    open_assignment: Step
    list_assignments: Step
    accept: Step
    pickup: Step
    deliver: Step
    leaderboard: Step
    agent_metrics: Step
    sla_summary: Step
    read_order: Step
    # The backend's error code from an error answer (already mapped onto DOCUMENTED_CODES).
    error_code: Callable[[Any], str] = read_code
    # Who logged in, from the login answer, in API.md's terms ({"id", "role", "walletId"?,
    # "agentId"?}): how `--users` discovers the ids the flows need (harness/fixtures_build.py).
    read_user: Callable[[Any], Any] = read_login_user
    # The header that carries a user's token.
    auth_header: Callable[[str], tuple[str, str]] = bearer
    idempotency_header: str = "Idempotency-Key"
    replayed_header: str = "Idempotent-Replayed"

    def steps(self) -> dict[str, Step]:
        """Every step by its field name, in declaration order."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if isinstance(getattr(self, f.name), Step)
        }

    def names(self) -> dict[str, str]:
        """The request name of each step (what reports show), by step."""
        return {step: s.name for step, s in self.steps().items()}


def mapped_codes(read: Callable[[Any], Any], mapping: Mapping[str, str]) -> Callable[[Any], str]:
    """An error-code reader: the backend's code at `read(body)`, renamed by `mapping` when listed."""

    def code(body: Any) -> str:
        raw = read(body)
        text = str(raw) if raw not in (None, "") else ""
        return mapping.get(text, text)

    return code


_cache: dict[str, Profile] = {}


def load_profile(spec: str | None = None) -> Profile:
    """The profile named by `spec`: a dotted module (`locustfiles.profiles.api_md`) or a `.py` file.

    None or "" is API.md's profile. Loaded once per process. A Locust process loads the plan's
    profile with `plan_profile`, which also works where the file is not (a remote worker).
    """
    spec = spec or DEFAULT_PROFILE
    if spec in _cache:
        return _cache[spec]
    if _is_file_spec(spec):
        path = Path(spec)
        if not path.is_file():
            raise FileNotFoundError(f"profile {spec}: no such file")
        module_name = f"loadgate_profile_{abs(hash(str(path.resolve())))}"
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ImportError(f"profile {spec}: cannot be imported")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module
        loader_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(spec)
    profile = getattr(module, "PROFILE", None)
    if not isinstance(profile, Profile):
        raise TypeError(f"profile {spec}: the module defines no PROFILE = Profile(...)")
    _cache[spec] = profile
    return profile


def _is_file_spec(spec: str) -> bool:
    return spec.endswith(".py") or os.sep in spec


def plan_profile(module: str | None, source: str | None = None) -> Profile:
    """The profile plan.json names: `module`, or for a file, the copy of its text the plan carries.

    plan.json carries a file profile's text (`profile.source`), so a remote worker needs only the
    plan: where the file is absent, or differs from what the master ran, the text is written to a
    content-addressed file under the temp folder and loaded from there. A dotted module must be
    importable where the worker runs.
    """
    if not module or source is None or not _is_file_spec(module):
        return load_profile(module)
    path = Path(module)
    if path.is_file() and path.read_text() == source:
        return load_profile(module)
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    copy = Path(tempfile.gettempdir()) / "loadgate-profiles" / f"{path.stem}-{digest}.py"
    if not copy.is_file():
        copy.parent.mkdir(parents=True, exist_ok=True)
        partial = copy.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(source)
        partial.replace(copy)
    return load_profile(str(copy))
