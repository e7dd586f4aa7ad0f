"""Race winners are recounted from the participants, per kind (docs/contracts.md)."""

from __future__ import annotations

from loadgate_contract.records import Participant, RaceTrial
from reports.measures import race_winners


def _p(status: int, created: str | None = None) -> Participant:
    return {"status": status, "code": "" if status < 300 else "X", "created_id": created}


def test_replayed_idempotent_creations_are_one_winner() -> None:
    trial: RaceTrial = {
        "kind": "idempotent_create",
        "participants": [_p(201, "o1")] * 7 + [_p(409)] * 13,
        "winners": 1,
    }
    assert race_winners(trial) == 1


def test_two_distinct_orders_from_one_key_are_two_winners_whatever_the_recorded_count() -> None:
    parts = [_p(201, "o1"), _p(201, "o2"), _p(409)]
    trial: RaceTrial = {"kind": "idempotent_create", "participants": parts, "winners": 1}
    assert race_winners(trial) == 2


def test_other_races_count_every_2xx() -> None:
    trial: RaceTrial = {
        "kind": "assignment_accept",
        "participants": [_p(200), _p(200), _p(409)],
        "winners": 1,
    }
    assert race_winners(trial) == 2
