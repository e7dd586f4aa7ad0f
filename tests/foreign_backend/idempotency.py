"""Idempotency-Key: the key is claimed before the work, completed in the work's own transaction.

A duplicate that arrives while the first is in flight gets 409 IDEMPOTENCY_KEY_IN_PROGRESS; once
the first committed, a replay of its stored response with `Idempotent-Replayed: true`; another
payload under the same key is 409 IDEMPOTENCY_KEY_REUSED. A claim whose request died without
releasing it (the database went away) can be taken over after LEASE_S.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from psycopg import errors as pgerr
from psycopg.types.json import Jsonb

from tests.foreign_backend.db import Conn, one
from tests.foreign_backend.errors import ApiError, invalid
from tests.foreign_backend.web import Reply, Request, dumps

if TYPE_CHECKING:
    from tests.foreign_backend.app import App

Work = Callable[[Conn], tuple[int, Any]]
MAX_KEY_LENGTH = 255
LEASE_S = 30
CONFLICT_ATTEMPTS = 5


def fingerprint(req: Request, payload: Any) -> str:
    """What makes two requests "the same": method, path, canonical body, caller."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    parts = (req.method, req.path, canonical, req.user.user_id)
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _claim(conn: Conn, user: str, key: str, fp: str) -> bool:
    row = one(
        conn,
        """INSERT INTO request_keys (member_id, key, fingerprint) VALUES (%(u)s, %(k)s, %(f)s)
           ON CONFLICT (member_id, key) DO UPDATE
             SET fingerprint = EXCLUDED.fingerprint, state = 'IN_PROGRESS', response_status = NULL,
                 response_body = NULL, claimed_at = now(), expires_at = now() + interval '24 hours'
             WHERE request_keys.expires_at < now()
                OR (request_keys.state = 'IN_PROGRESS'
                    AND request_keys.claimed_at < now() - make_interval(secs => %(lease)s))
           RETURNING 1 AS claimed""",
        {"u": user, "k": key, "f": fp, "lease": LEASE_S},
    )
    return row is not None


def _stored(app: App, user: str, key: str, fp: str) -> Reply:
    with app.db.connection() as conn:
        found = one(conn, "SELECT * FROM request_keys WHERE member_id = %s AND key = %s", (user, key))
    if found is None or found["state"] != "COMPLETED":
        raise ApiError(
            409,
            "IDEMPOTENCY_KEY_IN_PROGRESS",
            "A request with this Idempotency-Key is still being processed",
            headers={"Retry-After": "1"},
        )
    if found["fingerprint"] != fp:
        raise ApiError(409, "IDEMPOTENCY_KEY_REUSED", "Idempotency-Key was used with another request")
    return Reply(int(found["response_status"]), found["response_body"], {"Idempotent-Replayed": "true"})


def _attempt(
    app: App, req: Request, work: Work, isolation: str, done: Callable[[Conn, int, Any], None]
) -> Reply:
    """`work` in one transaction; a 4xx it raises is an answer (rolled back to a savepoint, then stored)."""
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            with app.db.transaction(isolation) as conn:
                try:
                    with conn.transaction():
                        status, body = work(conn)
                except ApiError as exc:
                    if exc.status >= 500:
                        raise
                    status, body = exc.status, exc.body(req.path)
                    done(conn, status, body)
                    return Reply(status, body, exc.headers)
                done(conn, status, body)
                return Reply(status, body)
        except (pgerr.SerializationFailure, pgerr.DeadlockDetected):
            if attempt == CONFLICT_ATTEMPTS:
                raise
            time.sleep(0.01 * 2**attempt)
    raise AssertionError("unreachable")


def run(app: App, req: Request, payload: Any, work: Work, *, isolation: str = "READ COMMITTED") -> Reply:
    """Do `work` once per Idempotency-Key (or just once, without a key) and answer its reply."""
    key = req.headers.get("Idempotency-Key")
    if key is None:
        return _attempt(app, req, work, isolation, lambda conn, status, body: None)
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise invalid("Idempotency-Key", f"must be 1-{MAX_KEY_LENGTH} characters")
    user = req.user.user_id
    fp = fingerprint(req, payload)
    with app.db.connection() as conn:
        claimed = _claim(conn, user, key, fp)
    if not claimed:
        return _stored(app, user, key, fp)

    def complete(conn: Conn, status: int, body: Any) -> None:
        conn.execute(
            "UPDATE request_keys SET state = 'COMPLETED', response_status = %s, response_body = %s"
            " WHERE member_id = %s AND key = %s",
            (status, Jsonb(body, dumps=dumps), user, key),
        )

    try:
        return _attempt(app, req, work, isolation, complete)
    except BaseException:
        # The work did not commit: free the key so a retry with it can do the work.
        with contextlib.suppress(Exception), app.db.connection() as conn:
            conn.execute(
                "DELETE FROM request_keys WHERE member_id = %s AND key = %s AND state = 'IN_PROGRESS'",
                (user, key),
            )
        raise
