"""Idempotency-Key rows: claim, look up, complete, release."""

from __future__ import annotations

from typing import Any

import orjson
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from reference_service.db import Session

ABANDONED_AFTER_S = 60


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


async def claim(s: Session, key: str, user_id: str, method: str, path: str, fingerprint: str) -> bool:
    """Insert the key IN_PROGRESS; True if this request owns it now.

    The primary key decides between concurrent duplicates. An expired key, or one left
    IN_PROGRESS by a request that died long ago, is taken over.
    """
    row = await s.one(
        """INSERT INTO idempotency_keys (key, user_id, method, path, fingerprint, status)
           VALUES (%(key)s, %(user)s, %(method)s, %(path)s, %(fp)s, 'IN_PROGRESS')
           ON CONFLICT (user_id, key) DO UPDATE
             SET user_id = EXCLUDED.user_id, method = EXCLUDED.method, path = EXCLUDED.path,
                 fingerprint = EXCLUDED.fingerprint, status = 'IN_PROGRESS', response_status = NULL,
                 response_body = NULL, created_at = now(), expires_at = now() + interval '24 hours'
             WHERE idempotency_keys.expires_at < now()
                OR (idempotency_keys.status = 'IN_PROGRESS'
                    AND idempotency_keys.created_at < now() - make_interval(secs => %(abandoned)s))
           RETURNING key""",
        {
            "key": key,
            "user": user_id,
            "method": method,
            "path": path,
            "fp": fingerprint,
            "abandoned": ABANDONED_AFTER_S,
        },
        op="idempotency.claim",
    )
    return row is not None


async def find(s: Session, key: str, user_id: str) -> DictRow | None:
    return await s.one(
        """SELECT fingerprint, status, response_status, response_body FROM idempotency_keys
           WHERE user_id = %s AND key = %s AND expires_at > now()""",
        (user_id, key),
        op="idempotency.find",
    )


async def complete(s: Session, key: str, user_id: str, status: int, body: Any) -> None:
    await s.execute(
        """UPDATE idempotency_keys SET status = 'COMPLETED', response_status = %s, response_body = %s
           WHERE user_id = %s AND key = %s""",
        (status, Jsonb(body, dumps=_dumps), user_id, key),
        op="idempotency.complete",
    )


async def insert_completed(
    s: Session, key: str, user_id: str, method: str, path: str, fingerprint: str, status: int, body: Any
) -> None:
    """Seed-style BEFORE code (safeguard off): remember the key after the fact, first writer wins."""
    await s.execute(
        """INSERT INTO idempotency_keys
             (key, user_id, method, path, fingerprint, status, response_status, response_body)
           VALUES (%s, %s, %s, %s, %s, 'COMPLETED', %s, %s) ON CONFLICT (user_id, key) DO NOTHING""",
        (key, user_id, method, path, fingerprint, status, Jsonb(body, dumps=_dumps)),
        op="idempotency.insert_completed",
    )


async def release(s: Session, key: str, user_id: str) -> None:
    await s.execute(
        "DELETE FROM idempotency_keys WHERE user_id = %s AND key = %s AND status = 'IN_PROGRESS'",
        (user_id, key),
        op="idempotency.release",
    )
