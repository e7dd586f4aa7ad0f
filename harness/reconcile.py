"""Jepsen-style reconciliation of what clients were told against what the database holds.

Written at the end of a run as `reconcile.json` (docs/contracts.md):

    acknowledged        every 2xx write that returned an id must exist (missing = a lost write)
    indeterminate       a write that got no answer, a timeout or a 5xx may or may not have taken
                        effect: counted by its Idempotency-Key (once / not_at_all / more_than_once /
                        unknown when it had no key or its effect cannot be identified)
    idempotent_retries  a key sent on several requests (client retries) must have one effect

The classification is pure (`Needs` from the rows, `assemble` from rows + `Found`); every SQL
statement is in `SQL` and runs in `fetch`, so the logic is tested without a database.
"""

from __future__ import annotations

import csv
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

EXAMPLES = 20
STATEMENT_TIMEOUT_MS = 30_000

ORDER = "POST /api/orders"
PAYMENT = "POST /api/payments"
CAPTURE = "POST /api/payments/{id}/capture"
TOP_UP = "POST /api/wallets/{id}/top-up"
ASSIGNMENT = "POST /api/shipping/assignments"

# Requests whose `created_id` names a row we can look for, and which table (key of SQL) holds it.
ACK_KINDS = {
    ORDER: "orders",
    PAYMENT: "payments",
    CAPTURE: "captures",
    TOP_UP: "top_ups",
    ASSIGNMENT: "assignments",
}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
NOT_WRITES = ("POST /api/auth/",)  # a login changes nothing
NO_ANSWER = ("TIMEOUT", "CONNECTION_ERROR")
# The load generator's capture keys name the payment: `capture:<payment id>:<nonce>` (flows.py).
CAPTURE_KEY = re.compile(r"^capture:([0-9a-fA-F-]{36}):")
CAPTURE_PATH = re.compile(r"^/api/payments/([0-9a-fA-F-]{36})/capture$")

SQL = {
    "orders": "SELECT id::text AS id FROM orders WHERE id = ANY(%(ids)s::uuid[])",
    "payments": "SELECT id::text AS id FROM payments WHERE id = ANY(%(ids)s::uuid[])",
    "captures": """SELECT p.id::text AS id FROM payments p
                   WHERE p.id = ANY(%(ids)s::uuid[]) AND p.lifecycle IN ('CAPTURED', 'REFUNDED')
                     AND EXISTS (SELECT 1 FROM ledger_entries e
                                 WHERE e.payment_id = p.id AND e.entry_type = 'BUYER_DEBIT')""",
    "top_ups": """SELECT substring(idempotency_key FROM '^topup_(.*)_credit$') AS id FROM ledger_entries
                  WHERE idempotency_key = ANY(ARRAY(SELECT 'topup_' || i || '_credit'
                                                    FROM unnest(%(ids)s::text[]) AS i))""",
    "assignments": "SELECT id::text AS id FROM shipping_assignments WHERE id = ANY(%(ids)s::uuid[])",
    # Effects by Idempotency-Key: orders carry their key; a capture's effect is its payment's debit.
    "orders_by_key": """SELECT idempotency_key AS key, id::text AS id FROM orders
                        WHERE idempotency_key = ANY(%(keys)s::text[])""",
    "capture_key_paths": "SELECT key, path FROM idempotency_keys WHERE key = ANY(%(keys)s::text[])",
    "captures_of_payments": """SELECT payment_id::text AS id FROM ledger_entries
                               WHERE payment_id = ANY(%(ids)s::uuid[]) AND entry_type = 'BUYER_DEBIT'""",
}


def is_write(name: str) -> bool:
    return name.split(" ", 1)[0] in WRITE_METHODS and not name.startswith(NOT_WRITES)


def _status(row: dict[str, str]) -> int:
    try:
        return int(row.get("status") or 0)
    except ValueError:
        return 0


def is_acknowledged(row: dict[str, str]) -> bool:
    return 200 <= _status(row) < 300 and bool(row.get("created_id")) and row.get("name", "") in ACK_KINDS


def is_indeterminate(row: dict[str, str]) -> bool:
    """No answer (never an arrival the load generator dropped before sending it) or a 5xx, on a write."""
    if not is_write(row.get("name", "")):
        return False
    status = _status(row)
    return (status == 0 and row.get("error_code") in NO_ANSWER) or 500 <= status < 600


def effect_kind(name: str) -> str | None:
    """What an Idempotency-Key on a request named `name` identifies in the database, if anything."""
    return {ORDER: "order", CAPTURE: "capture"}.get(name)


def outcome(effects: int | None) -> str:
    if effects is None:
        return "unknown"
    if effects == 0:
        return "not_at_all"
    return "once" if effects == 1 else "more_than_once"


def capture_payment_from_key(key: str) -> str | None:
    match = CAPTURE_KEY.match(key)
    return match.group(1).lower() if match else None


@dataclass
class Needs:
    """What to look up: acknowledged ids per kind, and keys whose effects must be counted."""

    ids: dict[str, set[str]] = field(default_factory=dict)
    order_keys: set[str] = field(default_factory=set)
    capture_keys: set[str] = field(default_factory=set)


@dataclass
class Found:
    """What the database holds: ids found per kind, and what each key did (absent: cannot tell)."""

    existing: dict[str, set[str]] = field(default_factory=dict)
    effects_by_key: dict[str, list[str]] = field(default_factory=dict)


def _key_groups(rows: Iterable[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    groups: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        key = row.get("idempotency_key") or ""
        if key and effect_kind(row.get("name", "")):
            groups.setdefault(key, []).append(row)
    return groups


def needs(rows: list[dict[str, str]]) -> Needs:
    need = Needs()
    for row in rows:
        if is_acknowledged(row):
            need.ids.setdefault(ACK_KINDS[row["name"]], set()).add(row["created_id"])
    keyed = [r for r in rows if is_indeterminate(r)] + [
        r for group in _key_groups(rows).values() if len(group) > 1 for r in group
    ]
    for row in keyed:
        key, kind = row.get("idempotency_key") or "", effect_kind(row.get("name", ""))
        if key and kind == "order":
            need.order_keys.add(key)
        elif key and kind == "capture":
            need.capture_keys.add(key)
    return need


def _effects(row: dict[str, str], found: Found) -> tuple[int | None, list[str]]:
    key = row.get("idempotency_key") or ""
    if not key or effect_kind(row.get("name", "")) is None or key not in found.effects_by_key:
        return None, []
    ids = found.effects_by_key[key]
    return len(ids), ids


def assemble(rows: list[dict[str, str]], found: Found, *, ran_at: float | None = None) -> dict[str, Any]:
    """The `reconcile.json` document from the request rows and what the database holds."""
    everything = [r for r in rows if is_acknowledged(r)]
    # A kind the look-up could not read back (absent from `existing`) is reported, not judged.
    acknowledged = [r for r in everything if ACK_KINDS[r["name"]] in found.existing]
    not_checked: dict[str, int] = {}
    for r in everything:
        if ACK_KINDS[r["name"]] not in found.existing:
            not_checked[ACK_KINDS[r["name"]]] = not_checked.get(ACK_KINDS[r["name"]], 0) + 1
    lost = [r for r in acknowledged if r["created_id"] not in found.existing[ACK_KINDS[r["name"]]]]
    indeterminate: dict[str, Any] = {
        "total": 0,
        "once": 0,
        "not_at_all": 0,
        "more_than_once": 0,
        "unknown": 0,
        "examples": [],
    }
    for row in (r for r in rows if is_indeterminate(r)):
        effects, _ = _effects(row, found)
        verdict = outcome(effects)
        indeterminate["total"] += 1
        indeterminate[verdict] += 1
        if len(indeterminate["examples"]) < EXAMPLES:
            indeterminate["examples"].append(
                {
                    "name": row.get("name", ""),
                    "ts": _float(row.get("ts")),
                    "idempotency_key": row.get("idempotency_key") or None,
                    "error_code": row.get("error_code") or str(_status(row)),
                    "outcome": verdict,
                    "effects": effects,
                }
            )
    retried = {k: g for k, g in _key_groups(rows).items() if len(g) > 1}
    duplicates = []
    for key, group in retried.items():
        effects, ids = _effects(group[0], found)
        if effects is not None and effects > 1:
            duplicates.append(
                {"idempotency_key": key, "name": group[0]["name"], "effects": effects, "ids": ids}
            )
    return {
        "ran_at": time.time() if ran_at is None else ran_at,
        "acknowledged": {
            "checked": len(acknowledged),
            "missing": len(lost),
            "not_checked": not_checked,
            "examples": [
                {
                    "name": r["name"],
                    "created_id": r["created_id"],
                    "ts": _float(r.get("ts")),
                    "idempotency_key": r.get("idempotency_key") or None,
                }
                for r in lost[:EXAMPLES]
            ],
        },
        "indeterminate": indeterminate,
        "idempotent_retries": {
            "keys": len(retried),
            "duplicate_effects": len(duplicates),
            "examples": duplicates[:EXAMPLES],
        },
    }


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def read_rows(path: Path, names: Mapping[str, str] | None = None) -> Iterator[dict[str, str]]:
    """The rows that can matter (writes), streamed: a capacity run's file can be large.

    `names` renames a target profile's request names to API.md's (harness.profiles.canonical_names),
    the names this module's kinds are keyed on.
    """
    if not path.exists():
        return
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if names:
                row["name"] = names.get(row.get("name") or "", row.get("name") or "")
            if is_write(row.get("name") or ""):
                yield row


def _uuids(values: Iterable[str]) -> list[str]:
    valid = []
    for value in values:
        try:
            valid.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return valid


def fetch(database_url: str, need: Needs) -> Found:
    """Run the look-ups of `need` against the database, read-only."""
    found = Found()
    with psycopg.connect(database_url, connect_timeout=5, autocommit=True) as conn:
        conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
        conn.execute("SET default_transaction_read_only = on")

        def ids(sql: str, **params: Any) -> list[str]:
            return [str(r[0]) for r in conn.execute(SQL[sql], params).fetchall()]

        for kind, wanted in need.ids.items():
            values = list(wanted) if kind == "top_ups" else _uuids(wanted)
            found.existing[kind] = set(ids(kind, ids=values)) if values else set()
        if need.order_keys:
            for key in need.order_keys:
                found.effects_by_key[key] = []
            for key, order_id in conn.execute(
                SQL["orders_by_key"], {"keys": list(need.order_keys)}
            ).fetchall():
                found.effects_by_key[str(key)].append(str(order_id))
        payment_of = {k: p for k in need.capture_keys if (p := capture_payment_from_key(k))}
        unparsed = [k for k in need.capture_keys if k not in payment_of]
        if unparsed:
            for key, path in conn.execute(SQL["capture_key_paths"], {"keys": unparsed}).fetchall():
                if match := CAPTURE_PATH.match(str(path)):
                    payment_of[str(key)] = match.group(1).lower()
        if payment_of:
            captured: dict[str, int] = {}
            for payment_id in ids("captures_of_payments", ids=_uuids(set(payment_of.values()))):
                captured[payment_id] = captured.get(payment_id, 0) + 1
            for key, payment_id in payment_of.items():
                found.effects_by_key[key] = [payment_id] * captured.get(payment_id, 0)
    return found


Fetch = Callable[[Needs, list[dict[str, str]]], Found]


def reconcile(
    run_dir: Path, fetcher: Fetch, *, source: str, names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Read `requests.csv`, look the writes up with `fetcher`, write `reconcile.json`; return it.

    `source` says where the look-ups went (`database` or `http`); the report shows it. `names`:
    see `read_rows` (examples then show API.md's names for the profile's requests).
    """
    rows = list(read_rows(run_dir / "requests.csv", names))
    document = {"source": source, **assemble(rows, fetcher(needs(rows), rows))}
    tmp = run_dir / "reconcile.json.tmp"
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    tmp.replace(run_dir / "reconcile.json")
    return document
