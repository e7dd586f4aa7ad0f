"""The server's settings, from the command line (and FOREIGN_BUGS)."""

from __future__ import annotations

from dataclasses import dataclass, field

KNOWN_BUGS = frozenset({"double_accept", "overdraft"})
BUG_WINDOW_MS = 25.0


@dataclass(frozen=True)
class Settings:
    """Everything a request handler may need to know about how the server was started."""

    database_url: str
    bugs: frozenset[str] = field(default_factory=frozenset)
    race_window_ms: float = 0.0
    token_ttl_s: int = 3600
    pool_min: int = 2
    pool_max: int = 20
    pool_timeout_s: float = 5.0
    statement_timeout_ms: int = 5000
    platform_fee_bps: int = 250
    dialect: str = "api_md"  # "alt": other routes, keys, headers and error codes (dialect.py)

    def has_bug(self, name: str) -> bool:
        """True when the switchable bug `name` is on."""
        return name in self.bugs


def parse_bugs(text: str) -> frozenset[str]:
    """`double_accept,overdraft` -> the set; an unknown name is an error, never ignored."""
    bugs = frozenset(b.strip() for b in text.split(",") if b.strip())
    unknown = bugs - KNOWN_BUGS
    if unknown:
        raise ValueError(f"unknown bug(s) {sorted(unknown)}; known: {sorted(KNOWN_BUGS)}")
    return bugs


def default_window_ms(bugs: frozenset[str], given: float | None) -> float:
    """The race window: as given, else 25 ms when a bug is on (to make it fire), else 0."""
    if given is not None:
        return given
    return BUG_WINDOW_MS if bugs else 0.0
