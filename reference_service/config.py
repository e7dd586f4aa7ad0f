"""Settings from the environment (docs/contracts.md), read and validated in one place."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

SAFEGUARDS = ("assignment_lock", "order_status_lock", "wallet_isolation", "idempotency")
# Deliberate bugs, for proving the gate's checks can fail; never in a real run (docs/contracts.md).
# `capture_unkeyed` and `cancel_keeps_money` are the money rules of docs/business-rules.md broken on
# purpose (they have no BEFORE version in the seeds to switch back to), for proving their races and
# probes can fail.
DEFECTS = ("ack_before_commit", "no_reconnect", "slow_pickup", "capture_unkeyed", "cancel_keeps_money")
# One hour: long enough for the longest scenario's setup, and Locust users log in again on a 401
# anyway; a leaked token is worth an hour, not the 30 days it used to be.
DEFAULT_TOKEN_TTL_S = 3600.0
# Bodies are small JSON documents (an order has at most 100 items); 64 KiB is far above any valid one.
DEFAULT_MAX_BODY_BYTES = 64 * 1024
MAX_TOKEN_TTL_S = 24 * 3600.0


def random_secret() -> str:
    """A fresh token secret: a service started without TOKEN_SECRET trusts no token minted elsewhere."""
    return secrets.token_urlsafe(32)


class ConfigError(ValueError):
    """The environment does not describe a service we can start."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    log_file: str | None = None
    pool_min_size: int = 10
    pool_max_size: int = 20
    pool_timeout_s: float = 2.0
    statement_timeout_ms: int = 5000
    slow_query_ms: float = 100.0
    safeguards_off: frozenset[str] = frozenset()
    token_secret: str = field(default_factory=random_secret, repr=False)
    token_ttl_s: float = DEFAULT_TOKEN_TTL_S  # TOKEN_TTL_S: tests shorten it to see tokens expire mid-run
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    platform_fee_bps: int = 1000
    race_window_ms: float = 0.0
    defects: frozenset[str] = frozenset()

    def has_defect(self, name: str) -> bool:
        return name in self.defects

    def safeguard_on(self, name: str) -> bool:
        return name not in self.safeguards_off

    @property
    def query_timeout_s(self) -> float:
        """Client-side bound on one database call: the server's own timeout plus a margin.

        `statement_timeout` cannot fire when the server does not run at all (stopped, partitioned),
        so the service also gives up on its side and answers 503.
        """
        return self.statement_timeout_ms / 1000 + 1.0


def parse_safeguards(raw: str) -> frozenset[str]:
    names = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = sorted(names - set(SAFEGUARDS))
    if unknown:
        raise ConfigError(
            f"SAFEGUARDS_OFF has unknown safeguard(s) {unknown}; known: {', '.join(SAFEGUARDS)}"
        )
    return frozenset(names)


def parse_defects(raw: str) -> frozenset[str]:
    names = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = sorted(names - set(DEFECTS))
    if unknown:
        raise ConfigError(f"DEFECTS has unknown defect(s) {unknown}; known: {', '.join(DEFECTS)}")
    return frozenset(names)


def _number(env: Mapping[str, str], name: str, default: float, cast: type[int] | type[float]) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative")
    return value


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from `env` (default: the process environment), or raise ConfigError."""
    env = os.environ if env is None else env
    url = env.get("DATABASE_URL", "")
    if not url:
        raise ConfigError("DATABASE_URL is required")
    pool_min = int(_number(env, "POOL_MIN_SIZE", 10, int))
    pool_max = int(_number(env, "POOL_MAX_SIZE", 20, int))
    if pool_max < 1 or pool_min > pool_max:
        raise ConfigError(f"POOL_MIN_SIZE={pool_min} / POOL_MAX_SIZE={pool_max} are not a valid pool size")
    ttl = _number(env, "TOKEN_TTL_S", DEFAULT_TOKEN_TTL_S, float)
    if not 0 < ttl <= MAX_TOKEN_TTL_S:
        raise ConfigError(f"TOKEN_TTL_S={ttl:g} must be above 0 and at most {MAX_TOKEN_TTL_S:g} (one day)")
    return Settings(
        database_url=url,
        host=env.get("SERVICE_HOST", "127.0.0.1") or "127.0.0.1",
        port=int(_number(env, "SERVICE_PORT", 8000, int)),
        log_file=env.get("LOG_FILE") or None,
        pool_min_size=pool_min,
        pool_max_size=pool_max,
        pool_timeout_s=_number(env, "POOL_TIMEOUT_S", 2.0, float),
        statement_timeout_ms=int(_number(env, "STATEMENT_TIMEOUT_MS", 5000, int)),
        slow_query_ms=_number(env, "SLOW_QUERY_MS", 100.0, float),
        safeguards_off=parse_safeguards(env.get("SAFEGUARDS_OFF", "")),
        token_secret=env.get("TOKEN_SECRET") or random_secret(),
        token_ttl_s=ttl,
        max_body_bytes=int(_number(env, "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, int)),
        platform_fee_bps=int(_number(env, "PLATFORM_FEE_BPS", 1000, int)),
        race_window_ms=_number(env, "RACE_WINDOW_MS", 0.0, float),
        defects=parse_defects(env.get("DEFECTS", "")),
    )
