"""Which suite members a run's setup skips (and why), and how a suite report shows a skipped one."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from harness.errors import InvalidInput
from harness.faults import KINDS, RunSetup
from harness.faults.base import cannot_inject
from harness.orchestrate import plan_all
from reports import generate
from reports.synthetic import healthy_load

LOAD = """
name = "{name}"
description = "unit test: a short load"
kind = "load"
speedup = 600
[rates]
orders_created = 200
[[phases]]
name = "steady"
duration_s = 600
"""
FAULT = """
[[faults]]
kind = "{kind}"
start_s = 120
duration_s = 60
"""


@pytest.fixture(autouse=True)
def _no_charts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reports.render_html.CHARTS_ENABLED", False)


def _suite(tmp_path: Path, fault_kind: str) -> Path:
    """`tmp/suites/tiny.toml` naming two scenarios of its own folder: a load, and one with a fault."""
    (tmp_path / "suites").mkdir()
    (tmp_path / "tiny_load.toml").write_text(LOAD.format(name="tiny_load"))
    (tmp_path / "tiny_fault.toml").write_text(LOAD.format(name="tiny_fault") + FAULT.format(kind=fault_kind))
    suite = tmp_path / "suites" / "tiny.toml"
    suite.write_text('name = "tiny"\ndescription = "unit test"\nscenarios = ["tiny_load", "tiny_fault"]\n')
    return suite


def _skipped(suite: Path, setup: str | RunSetup) -> dict[str, str | None]:
    _, is_suite, planned = plan_all(str(suite), None, setup)
    assert is_suite
    return {p.scenario.name: p.skipped for p in planned}


HOOKS_RESTART = RunSetup("target", db_hooks=frozenset({"stop", "start"}), hooks_file="h.toml")


@pytest.mark.parametrize(
    ("kind", "setup", "why"),
    [
        (
            "db_restart",
            RunSetup("target"),
            "or --db-container NAME / --db-hooks FILE; this run's database is target",
        ),
        ("db_crash", RunSetup("external"), "or --db-container NAME / --db-hooks FILE"),
        ("db_pause", RunSetup("target"), "a PostgreSQL the harness runs"),
        ("service_crash", RunSetup("target", db_container="pg"), "a service process the harness started"),
        ("db_latency", RunSetup("target", db_container="pg"), "a fault proxy between the service"),
        ("lock_hold", RunSetup("target"), "a database the harness may write to"),
        ("db_crash", HOOKS_RESTART, "db_crash needs the hooks kill and start in h.toml (missing: kill)"),
        ("db_pause", HOOKS_RESTART, "missing: pause, resume"),
    ],
)
def test_what_a_setup_cannot_inject_says_why(kind: str, setup: RunSetup, why: str) -> None:
    reason = cannot_inject(KINDS[kind], setup)
    assert reason is not None and why in reason


@pytest.mark.parametrize(
    ("kind", "setup"),
    [
        ("db_restart", RunSetup("embedded")),
        ("db_pause", RunSetup("docker")),
        ("db_restart", RunSetup("target", db_container="pg")),
        ("db_crash", RunSetup("target", db_container="pg")),
        ("db_pause", RunSetup("external", db_container="pg")),
        ("db_restart", HOOKS_RESTART),
        ("db_crash", RunSetup("target", db_hooks=frozenset({"kill", "start"}))),
        ("service_crash", RunSetup("external")),
    ],
)
def test_what_a_setup_can_inject(kind: str, setup: RunSetup) -> None:
    assert cannot_inject(KINDS[kind], setup) is None


def test_a_suite_member_the_target_cannot_restart_is_skipped_with_the_reason(tmp_path: Path) -> None:
    suite = _suite(tmp_path, "db_restart")
    skipped = _skipped(suite, "target")
    assert skipped["tiny_load"] is None
    assert skipped["tiny_fault"] is not None and "db_restart needs" in skipped["tiny_fault"]
    assert _skipped(suite, "embedded") == {"tiny_load": None, "tiny_fault": None}
    assert _skipped(suite, HOOKS_RESTART) == {"tiny_load": None, "tiny_fault": None}
    assert _skipped(suite, RunSetup("target", db_container="their-pg"))["tiny_fault"] is None


def test_hooks_without_what_the_fault_needs_skip_it_naming_the_hook(tmp_path: Path) -> None:
    suite = _suite(tmp_path, "db_crash")
    reason = _skipped(suite, HOOKS_RESTART)["tiny_fault"]
    assert reason is not None and "missing: kill" in reason


def test_a_scenario_named_on_its_own_that_cannot_run_is_refused(tmp_path: Path) -> None:
    _suite(tmp_path, "db_restart")
    with pytest.raises(InvalidInput, match=r"tiny_fault.toml: faults\[0\]\.kind: db_restart needs"):
        plan_all(str(tmp_path / "tiny_fault.toml"), None, "target")
    plan_all(str(tmp_path / "tiny_fault.toml"), None, HOOKS_RESTART)


def test_the_release_suite_on_a_target_skips_only_its_database_restart() -> None:
    _, _, planned = plan_all("release", None, "target")
    assert [p.scenario.name for p in planned if p.skipped] == ["chaos_db_restart"]


def _suite_folder(tmp_path: Path, skipped: list[dict[str, str]]) -> Path:
    root = tmp_path / "tiny-20260101T000000Z"
    healthy_load().write(root / "01-tiny_load")
    run = {
        "id": root.name, "scenario": "tiny", "kind": "suite", "status": "complete",
        "scenarios": ["tiny_load", "tiny_fault"], "children": ["01-tiny_load"], "skipped": skipped,
        "target": "http://10.213.7.2:8080",
    }  # fmt: skip
    (root / "run.json").write_text(json.dumps(run))
    return root


def test_a_skipped_member_is_shown_with_its_reason_and_does_not_make_the_suite_incomplete(
    tmp_path: Path,
) -> None:
    why = "faults[0].kind: db_restart needs a PostgreSQL the harness runs"
    root = _suite_folder(tmp_path, [{"scenario": "tiny_fault", "reason": why}])
    out = io.StringIO()
    assert generate(root, out=out) == 0, out.getvalue()
    assert f"skipped: tiny_fault: {why}" in out.getvalue()
    doc = json.loads((root / "summary.json").read_text())
    assert doc["skipped"] == [{"name": "tiny_fault", "reason": why}] and doc["exit_code"] == 0
    assert doc["run"]["target"] == "http://10.213.7.2:8080"
    assert not any("never ran" in r for r in doc["reasons"])
    assert f"tiny_fault: skipped: {why}" in (root / "summary.md").read_text()
    html = (root / "report.html").read_text()
    assert "skipped: faults[0].kind: db_restart needs" in html and "target http://10.213.7.2:8080" in html


def test_a_member_that_never_ran_without_being_skipped_still_cannot_pass(tmp_path: Path) -> None:
    root = _suite_folder(tmp_path, [])
    out = io.StringIO()
    assert generate(root, out=out) == 2
    assert "never ran: ['tiny_fault']" in json.loads((root / "summary.json").read_text())["reasons"][-1]
