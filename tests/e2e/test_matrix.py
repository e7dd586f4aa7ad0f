"""`harness matrix` in its bounded form: one safeguard off, caught, and its scenario clean passes.

It replaces the single "acceptance race without its lock fails the gate" test with the matrix that
runs it beside a clean run of the same scenario (a catch means nothing if the clean run fails too).
Two runs at x4 (the race's 20 trials in 4 s), side by side: about 20 s (make test's 10-minute budget).
The full matrix (every safeguard and defect, the whole release suite clean) is in README.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.matrix import DEFECT_CASES, SAFEGUARD_CASES, known_switches
from tests.e2e.conftest import read_json

pytestmark = pytest.mark.e2e


def test_every_known_safeguard_and_defect_has_a_matrix_row() -> None:
    safeguards, defects = known_switches()
    assert set(safeguards) == set(SAFEGUARD_CASES)
    assert set(defects) == set(DEFECT_CASES)


def test_the_bounded_matrix_catches_an_unlocked_accept_clean_passes(harness: Any, tmp_path: Path) -> None:
    run = harness("matrix", "--only", "assignment_lock", "--speedup", "4", "--jobs", "2")
    code, out = run.finish(timeout_s=300)
    assert code == 0, out
    assert "matrix: 1 of 1 safeguards/defects caught; clean run passes: exit 0" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 2, rows
    assert sum("| PASS |" in r for r in rows) == 1 and sum("| CAUGHT |" in r for r in rows) == 1, rows
    caught = next(r for r in rows if r.startswith("| assignment_lock off"))
    assert "`race_one_winner`" in caught and "assignment_single_acceptance" in caught, caught

    # The catch is the race itself: without its lock, some trial had two winners.
    (root,) = (tmp_path / "runs").glob("matrix-*")
    (run_dir,) = (root / "assignment_lock").glob("acceptance_race-*")
    record = read_json(run_dir / "run.json")
    assert record["safeguards_off"] == ["assignment_lock"] and record["race_window_ms"] == 25.0
    trials = [json.loads(line) for line in (run_dir / "races.jsonl").read_text().splitlines() if line]
    assert trials and max(t["winners"] for t in trials) >= 2
    assert (root / "matrix.md").read_text().count("\n| ") == 3  # header + two rows
    assert run.survivors() == {}
