"""The harness's side of target profiles (docs/profiles.md): which profile a run uses, what
plan.json says about it, and `harness profile check`, which calls each step once against a live
backend and names the first one that fails, before a user spends a run on it.

The profile itself is `locustfiles.common.profile` (no Locust import there), so the check sends
exactly the requests the flows send, here over httpx.
"""

from __future__ import annotations

import json
import ssl
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

from harness.errors import InvalidInput
from loadgate_contract.plan import ProfileDoc
from locustfiles.common.profile import DEFAULT_PROFILE, OrderView, Profile, Step, load_profile

TIMEOUT_S = 10.0


def resolve_spec(spec: str | None, base: Path | None = None) -> str:
    """A profile spec as plan.json carries it: a dotted module as is, a file made absolute.

    A relative file is relative to `base` (the scenario's folder), else to the current directory.
    """
    if not spec:
        return DEFAULT_PROFILE
    if spec.endswith(".py") or "/" in spec:
        path = Path(spec).expanduser()
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        return str(path.resolve())
    return spec


def load(spec: str) -> Profile:
    """The profile, or InvalidInput naming the spec and what is wrong with it."""
    try:
        return load_profile(spec)
    except Exception as exc:  # any error in a user's module is bad input, reported as such
        raise InvalidInput(f"profile {spec}: {type(exc).__name__}: {exc}") from exc


def plan_field(spec: str) -> ProfileDoc:
    """plan.json's `profile`: the module the Locust processes load, each step's request name, and
    `aliases` (request name -> the same step's API.md name, for names that differ), what reports
    and reconciliation read without importing the module: thresholds and measures written with
    API.md's names judge the profile's requests. A file's text rides along (`source`): a remote
    worker loads it from the plan (locustfiles.common.profile.plan_profile)."""
    names = load(spec).names()
    reference = load_profile(DEFAULT_PROFILE).names()
    aliases = {name: reference[step] for step, name in names.items() if name != reference[step]}
    path = Path(spec)
    source = path.read_text() if spec.endswith(".py") and path.is_file() else None
    return {"module": spec, "names": names, "aliases": aliases, "source": source}


def canonical_names(plan: Mapping[str, Any]) -> dict[str, str]:
    """plan.json's `profile.aliases` (empty for an API.md run: nothing to rename)."""
    aliases = (plan.get("profile") or {}).get("aliases")
    return dict(aliases) if isinstance(aliases, dict) else {}


# --- harness profile check ---


@dataclass
class Checked:
    step: str
    name: str
    ok: bool
    detail: str


class _StepFailed(Exception):
    pass


class Checker:
    """Sends one profile step at a time over httpx and reads the answer as the flows do."""

    def __init__(self, client: httpx.Client, profile: Profile) -> None:
        self.client = client
        self.profile = profile
        self.results: list[Checked] = []

    def send(
        self, step: Step, args: Mapping[str, Any], token: str | None, key: str | None = None
    ) -> tuple[int, Any, str]:
        headers = dict(step.headers)
        if token:
            name, value = self.profile.auth_header(token)
            headers[name] = value
        if key:
            headers[self.profile.idempotency_header] = key
        body = step.json(args)
        answer = self.client.request(
            step.method, step.url(args), headers=headers, json=body if body is not None else None
        )
        try:
            parsed = answer.json() if answer.content else None
        except ValueError:
            parsed = None
        code = self.profile.error_code(parsed) if answer.status_code >= 400 and parsed is not None else ""
        return answer.status_code, parsed, code

    def run(
        self,
        label: str,
        step_name: str,
        args: Mapping[str, Any],
        token: str | None,
        *,
        key: str | None = None,
        expect: Callable[[int, Any, str], str | None] | None = None,
    ) -> tuple[int, Any, str]:
        """Send `step_name`; `expect` returns what is wrong with the answer (None: fine). Default: 2xx."""
        step: Step = getattr(self.profile, step_name)
        try:
            status, body, code = self.send(step, args, token, key)
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            self._fail(label, step, f"could not be sent: {type(exc).__name__}: {exc}")
        wrong = (expect or _two_hundred)(status, body, code)
        if wrong:
            said = f"{status} {code}" if code else str(status)
            self._fail(label, step, f"{wrong} (answered {said}: {_short(body)})")
        self.results.append(Checked(label, step.name, True, f"{status}"))
        return status, body, code

    def _fail(self, label: str, step: Step, detail: str) -> None:
        self.results.append(Checked(label, step.name, False, detail))
        raise _StepFailed(label)


def _two_hundred(status: int, body: Any, code: str) -> str | None:
    return None if 200 <= status < 300 else "expected a 2xx answer"


def _short(body: Any) -> str:
    text = json.dumps(body) if body is not None else "no body"
    return text if len(text) <= 200 else text[:199] + "…"


def _users(fixtures: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    by_role: dict[str, dict[str, Any]] = {}
    for user in fixtures.get("users") or []:
        if isinstance(user, dict):
            by_role.setdefault(str(user.get("role", "")).upper(), user)
    missing = [r for r in ("BUYER", "SELLER", "AGENT", "ADMIN") if r not in by_role]
    if missing:
        raise InvalidInput(f"fixtures: no {', '.join(missing)} user to check the profile with")
    return by_role


def check_profile(
    base_url: str,
    profile: Profile,
    fixtures: Mapping[str, Any],
    *,
    verify: bool | ssl.SSLContext = True,
) -> list[Checked]:
    """Each step once, in the order a paid, delivered order needs them; stops at the first failure.

    Also checks that an error answer is read as API.md's code (a second capture must read
    PAYMENT_ALREADY_CAPTURED) and that the order's answer shows its payment and assignment (what
    reconciliation over HTTP reads back).
    """
    users = _users(fixtures)
    buyer, seller, agent, admin = (users[r] for r in ("BUYER", "SELLER", "AGENT", "ADMIN"))
    with httpx.Client(base_url=base_url, timeout=TIMEOUT_S, verify=verify) as client:
        c = Checker(client, profile)
        try:
            tokens: dict[str, str] = {}
            for role, user in (("BUYER", buyer), ("SELLER", seller), ("AGENT", agent), ("ADMIN", admin)):
                tokens[role] = _login(c, role, user)
            order_args = {
                "seller_id": seller["id"],
                "sku": "CHECK-0001",
                "quantity": 1,
                "unit_price_cents": 100,
                "shipping_zip": "10001",
            }
            _, body, _ = c.run(
                "create_order",
                "create_order",
                order_args,
                tokens["BUYER"],
                key=str(uuid.uuid4()),
                expect=_with_id(profile.create_order),
            )
            order_id = str(profile.create_order.read_id(body))
            _, body, _ = c.run(
                "read_order",
                "read_order",
                {"order_id": order_id},
                tokens["ADMIN"],
                expect=_order_shows(profile, order_id, None, None),
            )
            _, body, _ = c.run(
                "initiate_payment",
                "initiate_payment",
                {"order_id": order_id},
                tokens["BUYER"],
                expect=_with_id(profile.initiate_payment),
            )
            payment_id = str(profile.initiate_payment.read_id(body))
            c.run(
                "top_up",
                "top_up",
                {"wallet_id": buyer.get("walletId") or "", "amount_cents": 1000},
                tokens["ADMIN"],
            )
            c.run(
                "read_wallet",
                "read_wallet",
                {"wallet_id": buyer.get("walletId") or ""},
                tokens["BUYER"],
                expect=_reads_int(profile.read_wallet, "a balance"),
            )
            capture_args = {"payment_id": payment_id}
            c.run(
                "capture",
                "capture",
                capture_args,
                tokens["BUYER"],
                key=f"capture:{payment_id}:{uuid.uuid4()}",
            )
            c.run(
                "capture again (error code)",
                "capture",
                capture_args,
                tokens["BUYER"],
                key=f"capture:{payment_id}:{uuid.uuid4()}",
                expect=_code("PAYMENT_ALREADY_CAPTURED"),
            )
            c.run(
                "change_status",
                "change_status",
                {"order_id": order_id, "status": "CONFIRMED"},
                tokens["SELLER"],
            )
            agent_id = agent.get("agentId") or agent["id"]
            _, body, _ = c.run(
                "open_assignment",
                "open_assignment",
                {"order_id": order_id, "candidate_agent_ids": [agent_id]},
                tokens["SELLER"],
                expect=_with_id(profile.open_assignment),
            )
            assignment_id = str(profile.open_assignment.read_id(body))
            c.run("list_assignments", "list_assignments", {}, tokens["AGENT"])
            c.run("accept", "accept", {"assignment_id": assignment_id}, tokens["AGENT"])
            c.run("pickup", "pickup", {"assignment_id": assignment_id}, tokens["AGENT"])
            c.run("deliver", "deliver", {"assignment_id": assignment_id}, tokens["AGENT"])
            c.run("leaderboard", "leaderboard", {}, tokens["ADMIN"])
            c.run("agent_metrics", "agent_metrics", {"agent_id": agent_id}, tokens["ADMIN"])
            c.run("sla_summary", "sla_summary", {}, tokens["ADMIN"])
            c.run(
                "read_order (payment, assignment)",
                "read_order",
                {"order_id": order_id},
                tokens["ADMIN"],
                expect=_order_shows(profile, order_id, payment_id, assignment_id),
            )
        except _StepFailed:
            pass
    return c.results


def _login(c: Checker, role: str, user: Mapping[str, Any]) -> str:
    """The user's token: a login through the profile when the fixtures carry a password."""
    if not user.get("password"):
        if user.get("token"):
            return str(user["token"])
        raise InvalidInput(f"fixtures: the {role} user has neither a password nor a token")
    step = c.profile.login

    def token_read(status: int, body: Any, code: str) -> str | None:
        if not 200 <= status < 300:
            return "expected a 2xx answer"
        return None if step.read is not None and step.read(body) else "the answer has no token (login.read)"

    _, body, _ = c.run(
        f"login ({role})",
        "login",
        {"email": user.get("email"), "password": user["password"]},
        None,
        expect=token_read,
    )
    assert step.read is not None
    return str(step.read(body))


def _with_id(step: Step) -> Callable[[int, Any, str], str | None]:
    def check(status: int, body: Any, code: str) -> str | None:
        if not 200 <= status < 300:
            return "expected a 2xx answer"
        return None if step.read_id(body) else "the answer has no id (read_id)"

    return check


def _reads_int(step: Step, what: str) -> Callable[[int, Any, str], str | None]:
    def check(status: int, body: Any, code: str) -> str | None:
        if not 200 <= status < 300:
            return "expected a 2xx answer"
        value = step.read(body) if step.read is not None else None
        return (
            None
            if isinstance(value, int) and not isinstance(value, bool)
            else f"the answer has no {what} (read)"
        )

    return check


def _code(expected: str) -> Callable[[int, Any, str], str | None]:
    def check(status: int, body: Any, code: str) -> str | None:
        if code == expected:
            return None
        return f"expected error code {expected} (read by the profile's error_code), got {code or 'none'!r}"

    return check


def _order_shows(
    profile: Profile, order_id: str, payment_id: str | None, assignment_id: str | None
) -> Callable[[int, Any, str], str | None]:
    def check(status: int, body: Any, code: str) -> str | None:
        if not 200 <= status < 300:
            return "expected a 2xx answer"
        view = profile.read_order.read(body) if profile.read_order.read is not None else None
        if not isinstance(view, OrderView):
            return "read_order.read must return an OrderView"
        if view.id != order_id:
            return f"read_order.read gives order id {view.id!r}, not {order_id!r}"
        if payment_id is not None and (view.payment_id != payment_id or not view.captured):
            return f"read_order.read does not show payment {payment_id} as captured"
        if assignment_id is not None and assignment_id not in view.assignment_ids:
            return f"read_order.read does not show assignment {assignment_id}"
        return None

    return check


def print_check(results: list[Checked], profile: Profile, out: TextIO) -> int:
    """The check's lines; 0 when every step passed, 1 when one failed."""
    for r in results:
        mark = "ok  " if r.ok else "FAIL"
        print(f"{mark} {r.step:<34} {r.name:<52} {r.detail}", file=out)
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"profile {profile.name}: step {failed[0].step} failed: {failed[0].detail}", file=out)
        return 1
    print(f"profile {profile.name}: every step answered as the profile says", file=out)
    return 0
