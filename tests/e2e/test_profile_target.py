"""`harness run --profile` (issue 14): the gate on a backend whose routes, field names, headers and
error codes all differ from API.md (tests/foreign_backend `--dialect alt`), driven by the profile
tests/profiles/foreign_alt.py, judged by the unchanged thresholds (written in API.md's names, matched
through plan.json's profile aliases) and reconciled over HTTP through the profile.

Timing verdicts are not asserted (busy machine); about 60 s for both tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import csv_rows, read_json
from tests.e2e.test_foreign_target import ACCEPT, PROBES, TIMING_METRICS, _checks
from tests.e2e.test_harness_run import TINY_LOAD
from tests.foreign_backend.running import ForeignService, foreign_service

pytestmark = pytest.mark.e2e

ALT = Path(__file__).resolve().parents[1] / "profiles" / "foreign_alt.py"


def _run_on(harness: Any, svc: ForeignService, database_url: str, scenario: Path, *extra: str) -> Any:
    """`harness run` of a scenario or suite against the alt backend, its database and the probes."""
    target = ("--target", svc.base_url, "--fixtures", str(svc.fixtures_file))
    return harness(
        "run", str(scenario), *target, "--database-url", database_url, "--probes", str(PROBES), *extra
    )


def test_the_alt_profile_is_judged_on_every_check_through_its_own_names(
    harness: Any, tmp_path: Path, make_database: Callable[[], str]
) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "tiny_load.toml").write_text(TINY_LOAD)
    (tmp_path / "accept_small.toml").write_text(ACCEPT)
    suite = tmp_path / "suites" / "alt_gate.toml"
    suite.write_text('name = "alt_gate"\ndescription = "e2e"\nscenarios = ["tiny_load", "accept_small"]\n')
    database_url = make_database()
    with foreign_service(database_url, tmp_path / "backend", dialect="alt") as svc:
        run = _run_on(harness, svc, database_url, suite, "--profile", str(ALT))
        code, out = run.finish(timeout_s=300)
        assert run.survivors() == {}, run.survivors()
    root = run.run_dir()
    assert root is not None, out
    assert code != 2, out
    for member in ("tiny_load", "accept_small"):
        checks = _checks(root, member)
        critical = [c for c in checks.values() if c["severity"] == "critical"]
        assert not [c["name"] for c in critical if c["status"] == "no_data"], member
        wrong = [
            (c["name"], c["measured"], c["detail"])
            for c in critical
            if c["metric"] not in TIMING_METRICS and c["status"] != "pass"
        ]
        assert not wrong, (member, wrong)
    load_dir = next(p for p in root.iterdir() if p.name.endswith("-tiny_load"))
    plan = read_json(load_dir / "plan.json")
    assert plan["profile"]["module"] == str(ALT)
    assert plan["profile"]["aliases"]["POST /v2/purchases"] == "POST /api/orders"
    names = {r["name"] for r in csv_rows(load_dir / "requests.csv")}
    assert "POST /v2/delivery-jobs/{assignment_id}/claim" in names
    assert not [n for n in names if "/api/" in n], names
    # The core thresholds (tag core = API.md names) judged the profile's requests, one per name.
    load = _checks(load_dir.parent, "tiny_load")
    core = [c for c in load.values() if c["name"].startswith("core_p95")]
    assert any("/v2/purchases" in c["name"] for c in core), sorted(load)
    reconcile = read_json(load_dir / "reconcile.json")
    assert reconcile["source"] == "http", reconcile
    assert reconcile["acknowledged"]["checked"] > 0 and reconcile["acknowledged"]["missing"] == 0


def test_a_check_then_write_accept_fails_the_gate_under_the_scenario_s_profile(
    harness: Any, tmp_path: Path, make_database: Callable[[], str]
) -> None:
    # The scenario names its profile, relative to its own file.
    shutil.copy(ALT, tmp_path / "our_profile.py")
    scenario = tmp_path / "accept_small.toml"
    scenario.write_text(ACCEPT.replace('kind = "race"\n', 'kind = "race"\nprofile = "our_profile.py"\n', 1))
    database_url = make_database()
    with foreign_service(database_url, tmp_path / "backend", ("double_accept",), dialect="alt") as svc:
        run = _run_on(harness, svc, database_url, scenario)
        code, out = run.finish(timeout_s=200)
    assert code == 1, out
    run_dir = run.run_dir()
    assert run_dir is not None, out
    ours = str((tmp_path / "our_profile.py").resolve())
    assert read_json(run_dir / "plan.json")["profile"]["module"] == ours
    summary = read_json(run_dir / "summary.json")
    checks = {c["name"]: c for c in summary["checks"]}
    assert checks["race_one_winner"]["status"] == "fail", checks["race_one_winner"]
    assert "critical check failed: race_one_winner" in out
