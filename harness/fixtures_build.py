"""`harness fixtures`: log every user of a users file in to a target and write the fixtures file.

The ids the Locust flows need come from the target, through the API: `POST /api/auth/login` answers
`{"accessToken", "user": {"id", "role", "walletId"?, "agentId"?}}` (API.md has no other route from a
user to its wallet), falling back to the users file's optional `walletId`/`agentId`. Under a target
profile (docs/profiles.md) the login is the profile's `login` step and the user is read by its
`read_user`. No token is written: the Locust users log in themselves and again when a token
expires (actors.py).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from harness.errors import InvalidInput
from harness.users_file import ROLES, UserCredentials
from locustfiles.common.profile import Profile, load_profile


def _login(
    client: httpx.Client, user: UserCredentials, profile: Profile
) -> tuple[dict[str, Any] | None, str | None]:
    """(the fixtures entry, None) or (None, why this user cannot be used)."""
    step = profile.login
    args = {"email": user.email, "password": user.password}
    try:
        r = client.request(step.method, step.url(args), json=step.json(args), headers=dict(step.headers))
    except httpx.HTTPError as exc:
        return None, f"{user.email}: {step.name} failed: {type(exc).__name__}: {exc}"
    try:
        body = r.json()
    except ValueError:
        body = None
    if r.status_code != 200 or not isinstance(body, dict):
        code = profile.error_code(body) if body is not None else ""
        return None, f"{user.email}: {step.name} answered {r.status_code} {code or ''}".rstrip()
    raw = profile.read_user(body)
    who: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if not who.get("id"):
        return (
            None,
            f"{user.email}: the login answer has no user.id (API.md: {{accessToken, user: {{id, role}}}}; "
            "a target profile reads it with read_user)",
        )
    role = str(who.get("role") or user.role).upper()
    if role != user.role:
        return None, f"{user.email}: the users file says {user.role}, the target says {role}"
    entry: dict[str, Any] = {
        "id": str(who["id"]),
        "role": role,
        "email": user.email,
        "password": user.password,
    }
    wallet = who.get("walletId") or user.wallet_id
    agent = who.get("agentId") or user.agent_id
    if wallet:
        entry["walletId"] = str(wallet)
    if agent:
        entry["agentId"] = str(agent)
    return entry, None


def _scenario_needs() -> dict[str, list[str]]:
    """Scenario names by what they need beyond one user of each role (read from the scenarios)."""
    from harness.scenario import RaceKind, list_scenarios

    needs: dict[str, list[str]] = {}
    for s in list_scenarios():
        if s.race is not None and s.race.kind is RaceKind.ASSIGNMENT_ACCEPT:
            needs.setdefault(f"AGENT:{s.race.participants}", []).append(s.name)
    return needs


def check_cast(users: Iterable[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the roles and ids the flows need."""
    by_role: dict[str, list[dict[str, Any]]] = {r: [] for r in ROLES}
    for u in users:
        by_role[u["role"]].append(u)
    errors, warnings = [], []
    from harness.scenario import list_scenarios

    every = ", ".join(s.name for s in list_scenarios())
    for role in ROLES:
        if not by_role[role]:
            errors.append(
                f"no {role} user: every scenario needs at least one BUYER, SELLER, AGENT and ADMIN "
                f"(the Locust users refuse a cast without one): {every}"
            )
    no_wallet = [u["email"] for u in by_role["BUYER"] if not u.get("walletId")]
    if no_wallet:
        errors.append(
            f"BUYER without a walletId (the login answer's user.walletId, or a walletId column): "
            f"{', '.join(no_wallet)}; top-ups, wallet reads and wallet_race need it"
        )
    no_agent = [u["email"] for u in by_role["AGENT"] if not u.get("agentId")]
    if no_agent:
        errors.append(
            f"AGENT without an agentId (user.agentId, or an agentId column): {', '.join(no_agent)}; "
            "assignments name candidate agents by it"
        )
    for key, names in sorted(_scenario_needs().items()):
        wanted = int(key.split(":")[1])
        have = len(by_role["AGENT"])
        if 0 < have < wanted:
            warnings.append(
                f"{have} AGENT user(s) for {wanted} race participants in {', '.join(names)}: "
                "agents take part more than once"
            )
    return errors, warnings


def build_fixtures(
    target: str,
    users: list[UserCredentials],
    *,
    verify: bool | ssl.SSLContext = True,
    timeout_s: float = 10.0,
    profile: Profile | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Log every user in to `target` (through `profile`, default API.md's); (the fixtures document,
    warnings). Raises naming every problem."""
    profile = profile or load_profile(None)
    entries, errors = [], []
    with httpx.Client(base_url=target.rstrip("/"), verify=verify, timeout=timeout_s) as client:
        for user in users:
            entry, error = _login(client, user, profile)
            if entry is not None:
                entries.append(entry)
            if error is not None:
                errors.append(error)
    cast_errors, warnings = check_cast(entries)
    if errors or cast_errors:
        raise InvalidInput(f"cannot build fixtures from {target}:\n" + "\n".join(errors + cast_errors))
    return {"users": entries, "baseUrl": target.rstrip("/")}, warnings


def write_fixtures(
    target: str,
    users: list[UserCredentials],
    out: Path,
    *,
    verify: bool | ssl.SSLContext = True,
    profile: Profile | None = None,
) -> list[str]:
    """`build_fixtures` into `out` (written whole, atomically); the warnings."""
    doc, warnings = build_fixtures(target, users, verify=verify, profile=profile)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(out)
    return warnings
