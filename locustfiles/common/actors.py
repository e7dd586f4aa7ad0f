"""The seeded users, by role, from the fixtures file (docs/contracts.md "Fixtures file").

The reference seeder writes each user's access token (stateless HMAC tokens), so no login round
trip is needed; a user without a token (`harness fixtures` writes none) is logged in over HTTP with
its email and password the first time it is used, and again when the target answers 401 (an
expired token). One login per user at a time: the greenlets of one process share the user, and
those that wait for a login in progress take its token instead of logging in again.
"""

from __future__ import annotations

from gevent.lock import Semaphore
from locust.contrib.fasthttp import FastHttpSession

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from locustfiles.common.client import Call, default_profile, send
from locustfiles.common.profile import Profile

DEFAULT_FIXTURES = Path(".pgdata") / "fixtures.json"


@dataclass
class Actor:
    """A seeded user: who it is and how it authenticates."""

    id: str
    role: str
    email: str
    password: str
    token: str | None
    wallet_id: str | None = None
    agent_id: str | None = None
    logins: int = 0
    profile: Profile | None = field(default=None, repr=False, compare=False)  # None: API.md's
    _lock: Semaphore = field(default_factory=Semaphore, repr=False, compare=False)

    def _login(self, session: FastHttpSession) -> None:
        self.logins += 1
        profile = self.profile or default_profile()
        step = profile.login
        result = send(session, Call("login"), profile, step, {"email": self.email, "password": self.password})
        if result.ok:
            token = step.read(result.body) if step.read is not None else None
            self.token = str(token or "")

    def bearer(self, session: FastHttpSession) -> str:
        """The access token, logging in over HTTP once if the fixtures carried none."""
        if not self.token:
            with self._lock:
                if not self.token:  # another greenlet may have logged in while this one waited
                    self._login(session)
        return self.token or ""

    def can_renew(self) -> bool:
        """Whether a 401 can be cured by logging in (the user has credentials)."""
        return bool(self.email and self.password)

    def renew(self, session: FastHttpSession, stale: str) -> str:
        """A token other than `stale`: log in again unless another greenlet already did."""
        with self._lock:
            if self.token == stale:
                self._login(session)
        return self.token or ""


@dataclass
class Cast:
    """Every seeded user, by role."""

    buyers: list[Actor] = field(default_factory=list)
    sellers: list[Actor] = field(default_factory=list)
    agents: list[Actor] = field(default_factory=list)
    admins: list[Actor] = field(default_factory=list)

    def by_id(self, user_id: str) -> Actor:
        for actor in self.buyers + self.sellers + self.agents + self.admins:
            if actor.id == user_id:
                return actor
        raise KeyError(user_id)


def parse_fixtures(doc: dict[str, Any], profile: Profile | None = None) -> Cast:
    """A `Cast` from the fixtures document; its users log in through `profile` (default API.md's)."""
    cast = Cast()
    lists = {"BUYER": cast.buyers, "SELLER": cast.sellers, "AGENT": cast.agents, "ADMIN": cast.admins}
    for user in doc.get("users", []):
        role = str(user.get("role", "")).upper()
        if role in lists:
            lists[role].append(
                Actor(
                    id=str(user["id"]),
                    role=role,
                    email=str(user.get("email", "")),
                    password=str(user.get("password", "")),
                    token=user.get("token"),
                    wallet_id=user.get("walletId"),
                    agent_id=user.get("agentId"),
                    profile=profile,
                )
            )
    return cast


def fixtures_path() -> Path:
    """`LOADGATE_FIXTURES`, else the file `make serve` seeds (`.pgdata/fixtures.json`)."""
    return Path(os.environ.get("LOADGATE_FIXTURES") or DEFAULT_FIXTURES)


def load_cast(profile: Profile | None = None) -> Cast:
    """The cast from the fixtures file; a clear error when it is missing."""
    path = fixtures_path()
    if not path.is_file():
        raise FileNotFoundError(f"fixtures file {path} not found: set LOADGATE_FIXTURES or run `make serve`")
    cast = parse_fixtures(json.loads(path.read_text()), profile)
    missing = [role for role, people in vars(cast).items() if not people]
    if missing:
        raise ValueError(f"fixtures file {path} has no {', '.join(missing)}")
    return cast
