"""A team's own probes on a schema of its own (real PostgreSQL), judged as `harness run` judges them."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness.probes import ProbeSet, load_probes, preflight, probe_set, run_probes
from reports import generate
from reports.synthetic import healthy_load

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL);
CREATE TABLE movements (id serial PRIMARY KEY, account_id int REFERENCES accounts, cents bigint NOT NULL);
CREATE TABLE purchases (id serial PRIMARY KEY, request_key text);
INSERT INTO accounts VALUES (1, 'ann'), (2, 'bob');
INSERT INTO movements (account_id, cents) VALUES (1, 500), (2, -500);
INSERT INTO purchases (request_key) VALUES ('k1'), ('k2');
"""
PROBES = {
    "movements_sum_zero": "-- Money is neither made nor lost\n-- metrics: ledger_violations\n"
    "SELECT SUM(cents) AS total FROM movements HAVING SUM(cents) <> 0",
    "accounts_not_below_zero": "-- No account is overdrawn beyond its credit\n-- metrics: overdrafts\n"
    "SELECT account_id, SUM(cents) AS balance FROM movements GROUP BY account_id HAVING SUM(cents) < -500",
    "purchase_once_per_key": "-- One purchase per request key\n-- metrics: duplicate_orders\n"
    "SELECT request_key, count(*) FROM purchases GROUP BY request_key HAVING count(*) > 1",
}


@pytest.fixture
def team_db(make_database: Callable[[], str]) -> str:
    url = make_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA.encode())
    return url


@pytest.fixture
def team_probes(tmp_path: Path) -> Path:
    folder = tmp_path / "team_probes"
    folder.mkdir()
    for name, sql in PROBES.items():
        (folder / f"{name}.sql").write_text(sql + "\n")
    return folder


def _judge(tmp_path: Path, doc: Mapping[str, object]) -> tuple[int, dict[str, Any], dict[str, Any]]:
    folder = healthy_load().write(tmp_path / "run")
    (folder / "probes.json").write_text(json.dumps(doc))
    code = generate(folder, out=io.StringIO())
    summary = json.loads((folder / "summary.json").read_text())
    return code, summary, {c["name"]: c for c in summary["checks"]}


def test_team_probes_pass_clean_then_find_a_planted_overdraft(
    team_db: str, team_probes: Path, tmp_path: Path
) -> None:
    probes = probe_set(team_probes, [])
    clean = run_probes(team_db, probes=probes)
    assert clean["directory"] == str(team_probes) and clean["shipped"] is False
    assert [p["error"] for p in clean["probes"]] == [None, None, None]
    code, summary, checks = _judge(tmp_path / "clean", clean)
    assert code == 0, summary["reasons"]
    assert (
        checks["overdrafts"]["status"] == "pass"
        and "accounts_not_below_zero=0" in checks["overdrafts"]["detail"]
    )

    with psycopg.connect(team_db, autocommit=True) as conn:
        conn.execute("INSERT INTO movements (account_id, cents) VALUES (2, -100), (1, 100)")
    dirty = run_probes(team_db, probes=probes)
    code, summary, checks = _judge(tmp_path / "dirty", dirty)
    assert code == 1
    assert checks["overdrafts"]["status"] == "fail" and checks["overdrafts"]["measured"] == 1
    assert checks["overdrafts"]["examples"] == [
        {"probe": "accounts_not_below_zero", "account_id": 2, "balance": -600}
    ]
    assert "critical check failed: overdrafts" in summary["reasons"]


def test_shipped_probes_on_another_schema_name_the_database_error_and_the_fix(
    team_db: str, tmp_path: Path
) -> None:
    doc = run_probes(team_db, probes=ProbeSet())
    errors = {p["name"]: p["error"] for p in doc["probes"]}
    assert errors["ledger_total_zero"] == 'UndefinedTable: relation "ledger_entries" does not exist'
    code, summary, _ = _judge(tmp_path, doc)
    assert code == 2
    assert (
        "no evidence for critical check invariant_probes[ledger_total_zero]: probe ledger_total_zero could "
        'not run: UndefinedTable: relation "ledger_entries" does not exist — point --probes at probes '
        "written for your schema (docs/probes.md), or switch it off with --probes-off ledger_total_zero"
    ) in summary["reasons"]


def test_a_probe_switched_off_is_not_run_and_not_judged(
    team_db: str, team_probes: Path, tmp_path: Path
) -> None:
    (team_probes / "broken.sql").write_text(
        "-- Reads a table this schema does not have\nSELECT * FROM nope\n"
    )
    with_broken = run_probes(team_db, probes=probe_set(team_probes, []))
    assert _judge(tmp_path / "on", with_broken)[0] == 2
    doc = run_probes(team_db, probes=probe_set(team_probes, [("broken", "--probes-off")]))
    broken = next(p for p in doc["probes"] if p["name"] == "broken")
    assert broken["off"] == "--probes-off" and broken["error"] is None
    code, summary, checks = _judge(tmp_path / "off", doc)
    assert code == 0, summary["reasons"]
    assert checks["invariant_probes[broken]"]["detail"] == "probe broken switched off by --probes-off"


def test_preflight_plans_every_probe_and_names_those_the_schema_refuses(
    team_db: str, team_probes: Path
) -> None:
    shipped = preflight(team_db, ProbeSet())
    assert 'probe ledger_total_zero: UndefinedTable: relation "ledger_entries" does not exist' in shipped
    assert len(shipped) == len(load_probes()), "every shipped probe reads a table this schema lacks"
    assert preflight(team_db, probe_set(team_probes, [])) == []
    off = probe_set(None, [(p.name, "--probes-off") for p in load_probes()[1:]])
    assert len(preflight(team_db, off)) == 1, "a switched-off probe is not planned"
