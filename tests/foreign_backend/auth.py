"""Passwords, opaque access tokens stored in the database with a TTL, and who is calling."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from tests.foreign_backend.db import Conn, one

PBKDF2_ROUNDS = 20_000
ROLES = ("BUYER", "SELLER", "AGENT", "ADMIN")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: str
    role: str
    agent_id: str | None = None
    purse_id: str | None = None


def hash_password(password: str) -> str:
    """`pbkdf2$<salt hex>$<hash hex>`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ROUNDS)
    return f"pbkdf2${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """True when `password` hashes to `stored`."""
    try:
        _, salt, digest = stored.split("$")
    except ValueError:
        return False
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), PBKDF2_ROUNDS)
    return hmac.compare_digest(got.hex(), digest)


def _token_hash(token: str) -> str:
    # Only the hash is stored: a leaked table does not leak live tokens.
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(conn: Conn, user_id: str, ttl_s: int) -> str:
    """A new random token for `user_id`, valid `ttl_s` seconds."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO access_tokens (token_hash, member_id, expires_at)"
        " VALUES (%s, %s, now() + make_interval(secs => %s))",
        (_token_hash(token), user_id, ttl_s),
    )
    return token


def principal_for(conn: Conn, token: str) -> Principal | None:
    """The caller behind an unexpired `token`, or None."""
    row = one(
        conn,
        """SELECT m.id, m.role, c.id AS courier_id, p.id AS purse_id
           FROM access_tokens t
           JOIN members m ON m.id = t.member_id
           LEFT JOIN couriers c ON c.member_id = m.id
           LEFT JOIN purses p ON p.member_id = m.id
           WHERE t.token_hash = %s AND t.expires_at > now()""",
        (_token_hash(token),),
    )
    if row is None:
        return None
    return Principal(
        str(row["id"]),
        str(row["role"]),
        str(row["courier_id"]) if row["courier_id"] else None,
        str(row["purse_id"]) if row["purse_id"] else None,
    )
