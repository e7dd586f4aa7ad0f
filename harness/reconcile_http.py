"""The reconciliation's look-ups over HTTP, for a target whose schema the harness does not know.

`harness/reconcile.py` asks the database; a backend loadgate did not ship with has its own tables,
so there the same questions go to its API, as an admin, through the run's target profile
(docs/profiles.md; API.md's by default):

- every acknowledged order is fetched (the profile's `read_order`, `GET /api/orders/{id}` in
  API.md): 200 is found, 404 is lost;
- the answer names the order's payment and whether it is captured, and its assignments (the
  profile's `read_order.read` gives an OrderView), so acknowledged payments, captures and
  assignments are found through the orders that hold them;
- an order key's effects are the distinct order ids its attempts were answered with; what an
  unanswered attempt did cannot be seen over HTTP, so an indeterminate write stays `unknown`
  (reported, never counted as a violation), as do top-ups, which no route lists.

Any other answer than 200 or 404 (after retries) stops the look-up: a reconciliation that cannot
tell is a run error, never a silent pass.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg

from harness.errors import RunFailed
from harness.reconcile import ORDER, Found, Needs, is_acknowledged
from harness.stack import Stack
from locustfiles.common.profile import OrderView, Profile, load_profile

TIMEOUT_S = 10.0
ATTEMPTS = 3
PARALLEL = 4
# Kinds an order's answer reveals; top-ups have no route to read them back.
THROUGH_ORDERS = ("orders", "payments", "captures", "assignments")


def admin_token(client: httpx.Client, fixtures_path: Path, profile: Profile | None = None) -> str:
    """A token of the fixtures' first admin: a fresh login with its password, else its own."""
    profile = profile or load_profile(None)
    users = json.loads(fixtures_path.read_text()).get("users") or []
    admins = [u for u in users if isinstance(u, dict) and u.get("role") == "ADMIN"]
    if not admins:
        raise RunFailed(f"{fixtures_path}: no ADMIN user to read orders back with")
    admin = admins[0]
    step = profile.login
    args = {"email": admin.get("email"), "password": admin.get("password")}
    answer = client.request(step.method, step.url(args), json=step.json(args), headers=dict(step.headers))
    if answer.status_code == 200 and step.read is not None:
        return str(step.read(answer.json()) or "")
    if admin.get("token"):
        return str(admin["token"])
    raise RunFailed(f"admin login for the reconciliation answered {answer.status_code}: {answer.text[:200]}")


def _order(client: httpx.Client, order_id: str, profile: Profile) -> OrderView | None:
    """What the order's answer shows, None when the target says 404; RunFailed when it cannot tell."""
    step = profile.read_order
    args = {"order_id": order_id}
    last = ""
    for attempt in range(ATTEMPTS):
        try:
            answer = client.request(step.method, step.url(args), headers=dict(step.headers))
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if answer.status_code == 200:
                view = step.read(answer.json()) if step.read is not None else None
                return view if isinstance(view, OrderView) else OrderView(None)
            if answer.status_code == 404:
                return None
            last = f"{answer.status_code} {answer.text[:200]}"
        time.sleep(0.25 * (attempt + 1))
    raise RunFailed(f"{step.name} ({order_id}) could not tell whether it exists: {last}")


def found_in_orders(
    orders: Iterable[dict[str, Any] | OrderView], profile: Profile | None = None
) -> dict[str, set[str]]:
    """The ids each order shows: itself, its payment (and capture), its assignments.

    An order is an OrderView, or an answer body that the profile's `read_order.read` turns into one.
    """
    profile = profile or load_profile(None)
    read = profile.read_order.read
    existing: dict[str, set[str]] = {kind: set() for kind in THROUGH_ORDERS}
    for order in orders:
        view = order if isinstance(order, OrderView) else (read(order) if read is not None else None)
        if not isinstance(view, OrderView):
            continue
        if view.id:
            existing["orders"].add(view.id)
        if view.payment_id:
            existing["payments"].add(view.payment_id)
            if view.captured:
                existing["captures"].add(view.payment_id)
        existing["assignments"].update(view.assignment_ids)
    return existing


def order_key_effects(rows: Iterable[dict[str, str]], keys: set[str]) -> dict[str, list[str]]:
    """Per order key whose every attempt was answered: the distinct order ids it was answered with."""
    answered: dict[str, set[str]] = {}
    unanswered: set[str] = set()
    for row in rows:
        key = row.get("idempotency_key") or ""
        if key not in keys or row.get("name") != ORDER:
            continue
        if is_acknowledged(row):
            answered.setdefault(key, set()).add(row["created_id"])
        elif not row.get("status", "").startswith("4"):
            unanswered.add(key)
    return {key: sorted(ids) for key, ids in answered.items() if key not in unanswered}


def fetch_http(
    base_url: str,
    fixtures_path: Path,
    need: Needs,
    rows: list[dict[str, str]],
    *,
    verify: bool | ssl.SSLContext = True,
    profile: Profile | None = None,
) -> Found:
    """Answer `need` through the target's API (see the module docstring)."""
    profile = profile or load_profile(None)
    found = Found()
    order_ids = sorted(need.ids.get("orders", set()))
    with httpx.Client(base_url=base_url, timeout=TIMEOUT_S, verify=verify) as client:
        header, value = profile.auth_header(admin_token(client, fixtures_path, profile))
        client.headers[header] = value
        with ThreadPoolExecutor(PARALLEL) as pool:
            views = [v for v in pool.map(lambda i: _order(client, i, profile), order_ids) if v is not None]
    shown = found_in_orders(views, profile)
    for kind in need.ids:
        if kind in THROUGH_ORDERS:
            found.existing[kind] = shown[kind]
    found.effects_by_key = order_key_effects(rows, need.order_keys)
    return found


def reconcile_stack(run_dir: Path, stack: Stack, *, verify: bool | ssl.SSLContext = True) -> dict[str, Any]:
    """`reconcile.json` from the strongest source: the database when its schema is the reference
    service's (the harness runs that service, or a target's database answers the look-ups), else
    the target's API."""
    from harness.profiles import canonical_names
    from harness.reconcile import fetch, reconcile

    plan_path = run_dir / "plan.json"
    plan = json.loads(plan_path.read_text()) if plan_path.is_file() else {}
    # Rows carry the profile's request names; the reconciliation's kinds are API.md's step names.
    names = canonical_names(plan)
    profile = load_profile((plan.get("profile") or {}).get("module"))
    url = stack.database_url
    if url is not None:
        try:
            return reconcile(run_dir, lambda need, rows: fetch(url, need), source="database", names=names)
        except psycopg.ProgrammingError:  # another schema: no such table, column or operator
            if stack.service is not None:
                raise
    fixtures = stack.fixtures_path
    return reconcile(
        run_dir,
        lambda need, rows: fetch_http(stack.base_url, fixtures, need, rows, verify=verify, profile=profile),
        source="http",
        names=names,
    )
