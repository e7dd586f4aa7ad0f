"""The order state machine (API.md): pure data."""

from __future__ import annotations

STATES = ("PENDING", "CONFIRMED", "SHIPPING", "DELIVERED", "CANCELLED")
MOVES = {
    "PENDING": {"CONFIRMED", "CANCELLED"},
    "CONFIRMED": {"SHIPPING", "CANCELLED"},
    "SHIPPING": {"DELIVERED"},
}
PAYABLE = frozenset({"PENDING", "CONFIRMED"})


def can_move(current: str, target: str) -> bool:
    """True when `current` -> `target` is a step of the state machine."""
    return target in MOVES.get(current, set())
