"""The users file: who may log in to a target (email, password, role), as JSON, TOML or CSV.

    {"users": [{"email": "b1@x.test", "password": "...", "role": "BUYER", "walletId"?, "agentId"?}]}
    [[users]] email = ... password = ... role = ...        (TOML, the same keys)
    email,password,role,walletId,agentId                   (CSV with a header; the last two optional)

No tokens and no ids are needed: `harness fixtures` (harness/fixtures_build.py) logs each user in and
learns the ids from the target. Every error of the file is reported at once, with its row.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import InvalidInput

ROLES = ("BUYER", "SELLER", "AGENT", "ADMIN")
KEYS = ("email", "password", "role", "walletId", "agentId")


@dataclass(frozen=True)
class UserCredentials:
    """One user of the file; the ids are optional fallbacks for what the login answer lacks."""

    email: str
    password: str
    role: str
    wallet_id: str | None = None
    agent_id: str | None = None


def _rows(path: Path, text: str) -> list[Any]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return list(csv.DictReader(io.StringIO(text)))
        doc: Any = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, csv.Error) as exc:
        kind = {".toml": "TOML", ".csv": "CSV"}.get(suffix, "JSON")
        raise InvalidInput(f"{path}: not valid {kind}: {exc}") from exc
    users = doc.get("users") if isinstance(doc, dict) else None
    if not isinstance(users, list):
        raise InvalidInput(f'{path}: expected {{"users": [{{"email", "password", "role"}}, ...]}}')
    return users


def parse_users(path: Path, text: str) -> list[UserCredentials]:
    """Users from the file's text (the format from its suffix: .csv, .toml, else JSON)."""
    errors: list[str] = []
    out: list[UserCredentials] = []
    seen: set[str] = set()
    for i, row in enumerate(_rows(path, text)):
        where = f"{path}: users[{i}]"
        if not isinstance(row, dict):
            errors.append(f"{where}: must be a table/object with email, password, role")
            continue
        unknown = sorted(k for k in row if k not in KEYS and k is not None)
        if unknown:
            from harness.scenario_parse import did_you_mean

            errors += [f"{where}: unknown key {k!r}{did_you_mean(k, KEYS)}" for k in unknown]
        values = {k: str(row.get(k) or "").strip() for k in KEYS}
        for key in ("email", "password", "role"):
            if not values[key]:
                errors.append(f"{where}: {key} is required")
        role = values["role"].upper()
        if values["role"] and role not in ROLES:
            errors.append(f"{where}: role {values['role']!r} is not one of {', '.join(ROLES)}")
        email = values["email"].lower()
        if email and email in seen:
            errors.append(f"{where}: {values['email']} appears twice")
        seen.add(email)
        out.append(
            UserCredentials(
                values["email"],
                values["password"],
                role,
                values["walletId"] or None,
                values["agentId"] or None,
            )
        )
    if not out and not errors:
        errors.append(f"{path}: no users")
    if errors:
        raise InvalidInput("invalid users file:\n" + "\n".join(errors))
    return out


def load_users(path: Path) -> list[UserCredentials]:
    """Read and validate a users file (an `InvalidInput` naming every problem)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"--users {path}: cannot read: {exc.strerror}") from exc
    return parse_users(path, text)
