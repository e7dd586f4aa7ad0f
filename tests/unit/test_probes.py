"""Probe sets: loading, the `-- metrics:` header, validation before a run, and how the judge reads them."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, cast

import pytest

from harness.errors import InvalidInput
from harness.orchestrate import plan_all
from harness.probes import SHIPPED_DIR, load_probes, parse_probe, probe_set
from harness.runner import RunOptions
from loadgate_contract.records import ProbeResult
from reports import generate
from reports.synthetic import healthy_load

SCENARIO = "duration_s = 10\n[rates]\norders_created = 50\n"


def _dir(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "probes"
    folder.mkdir(exist_ok=True)
    for name, sql in files.items():
        (folder / f"{name}.sql").write_text(sql)
    return folder


def test_header_names_metrics_and_description() -> None:
    probe = parse_probe(
        "wallets_ok", "-- No wallet below zero\n-- metrics: overdrafts, ledger_violations\nSELECT 1"
    )
    assert probe.description == "No wallet below zero"
    assert probe.metrics == ("overdrafts", "ledger_violations")


def test_metrics_header_only_counts_in_the_leading_comments() -> None:
    probe = parse_probe("p", "-- d\nSELECT 1\n-- metrics: overdrafts\n")
    assert probe.metrics == ()


def test_unknown_metric_in_header_is_an_error_with_a_hint() -> None:
    with pytest.raises(InvalidInput, match=r"overdraft.*did you mean 'overdrafts'"):
        parse_probe("p", "-- d\n-- metrics: overdraft\nSELECT 1")


def test_shipped_set_is_the_default() -> None:
    names = [p.name for p in load_probes()]
    assert "ledger_total_zero" in names and names == sorted(names)
    assert probe_set(None, []).describe() == {"directory": str(SHIPPED_DIR), "shipped": True, "off": {}}


def test_folder_must_exist_and_hold_sql(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        probe_set(tmp_path / "nope", [])
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(InvalidInput, match=r"holds no \.sql file"):
        probe_set(tmp_path / "empty", [])


def test_unknown_probe_switched_off_suggests_the_close_one(tmp_path: Path) -> None:
    folder = _dir(tmp_path, wallets_never_negative="-- d\nSELECT 1 WHERE false")
    with pytest.raises(
        InvalidInput, match=r"--probes-off: no probe named 'wallets_never_negativ'.*did you mean"
    ):
        probe_set(folder, [("wallets_never_negativ", "--probes-off")])
    ok = probe_set(folder, [("wallets_never_negative", "--probes-off")])
    assert ok.off == {"wallets_never_negative": "--probes-off"}


def test_scenario_key_is_relative_to_its_file_and_the_flag_wins(tmp_path: Path) -> None:
    mine = _dir(tmp_path, a="-- a\nSELECT 1 WHERE false", b="-- b\nSELECT 1 WHERE false")
    other = tmp_path / "other"
    other.mkdir()
    (other / "c.sql").write_text("-- c\nSELECT 1 WHERE false")
    sub = tmp_path / "scen"
    sub.mkdir()
    path = sub / "mine.toml"
    path.write_text('probes = "../probes"\nprobes_off = ["b"]\n' + SCENARIO)
    _, _, [planned] = plan_all(str(path), None, "embedded", RunOptions())
    assert planned.probes.folder.resolve() == mine.resolve()
    assert planned.probes.off == {"b": f"{path}: probes_off"}
    # The flag's folder wins; the scenario's probes_off names must exist in that folder.
    with pytest.raises(InvalidInput, match="no probe named 'b'"):
        plan_all(str(path), None, "embedded", RunOptions(probes=other))
    path.write_text('probes = "../probes"\n' + SCENARIO)
    _, _, [planned] = plan_all(str(path), None, "embedded", RunOptions(probes=other, probes_off=("c",)))
    assert planned.probes.folder == other and planned.probes.off == {"c": "--probes-off"}


def test_scenario_probes_key_must_be_a_string_and_probes_off_an_array(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('probes = 3\nprobes_off = "x"\n' + SCENARIO)
    with pytest.raises(InvalidInput) as info:
        plan_all(str(path), None, "embedded", RunOptions())
    assert "probes: must be a string" in str(info.value)
    assert "probes_off: must be an array of probe names" in str(info.value)


# --- how the judge reads probes.json -------------------------------------------------------------------


def _entry(name: str, **more: Any) -> dict[str, Any]:
    base = {"name": name, "description": name, "metrics": [], "violations": 0, "examples": [], "error": None}
    return {**base, "off": None, **more}


def _judge(tmp_path: Path, probes: list[dict[str, Any]], *, shipped: bool) -> tuple[int, dict[str, Any]]:
    run = healthy_load()
    run.probes = cast(list[ProbeResult], probes)  # entries of any shape: the reader must cope
    folder = run.write(tmp_path / "run")
    doc = {"ran_at": "2025-01-01T00:00:00.000Z", "directory": "/teams/probes", "shipped": shipped}
    (folder / "probes.json").write_text(json.dumps({**doc, "probes": probes}))
    code = generate(folder, out=io.StringIO())
    return code, json.loads((folder / "summary.json").read_text())


def _shipped_names() -> list[str]:
    return [p.name for p in load_probes()]


def test_a_probe_that_cannot_run_names_the_error_and_the_fix(tmp_path: Path) -> None:
    err = 'UndefinedTable: relation "ledger_entries" does not exist'
    probes = [_entry(n, error=err if n == "ledger_total_zero" else None) for n in _shipped_names()]
    code, summary = _judge(tmp_path, probes, shipped=True)
    assert code == 2
    assert (
        "no evidence for critical check invariant_probes[ledger_total_zero]: probe ledger_total_zero "
        f"could not run: {err} — point --probes at probes written for your schema (docs/probes.md), "
        "or switch it off with --probes-off ledger_total_zero"
    ) in summary["reasons"]


def test_custom_folder_error_says_fix_it_there(tmp_path: Path) -> None:
    probes = [
        _entry("ledger_balanced", error="SyntaxError: oops"),
        _entry("no_negative_wallet"),
        _entry("x_duplicate_orders"),
    ]
    code, summary = _judge(tmp_path, probes, shipped=False)
    assert code == 2
    assert any("fix it in /teams/probes for your schema" in r for r in summary["reasons"]), summary["reasons"]


def test_a_metric_no_probe_serves_is_no_data_that_blocks(tmp_path: Path) -> None:
    probes = [_entry("ledger_balanced"), _entry("one_order_per_idempotency_key")]  # nothing for overdrafts
    code, summary = _judge(tmp_path, probes, shipped=False)
    assert code == 2
    checks = {c["name"]: c for c in summary["checks"]}
    assert checks["overdrafts"]["status"] == "no_data"
    assert checks["overdrafts"]["detail"].startswith(
        "no probe in /teams/probes named like ['no_negative_wallet'"
    )
    assert "(name one so, see docs/probes.md)" in checks["overdrafts"]["detail"]


def test_the_metrics_header_lets_any_name_serve_a_metric(tmp_path: Path) -> None:
    probes = [
        _entry("ledger_balanced"),
        _entry("one_order_per_idempotency_key"),
        _entry("wallet_floor", metrics=["overdrafts"], violations=2, examples=[{"wallet": "w1"}]),
    ]
    code, summary = _judge(tmp_path, probes, shipped=False)
    checks = {c["name"]: c for c in summary["checks"]}
    assert checks["overdrafts"]["status"] == "fail" and checks["overdrafts"]["measured"] == 2
    assert code == 1


def test_a_probe_switched_off_is_recorded_and_does_not_block(tmp_path: Path) -> None:
    who = "--probes-off"
    probes = [_entry(n, off=who) if n == "ledger_total_zero" else _entry(n) for n in _shipped_names()]
    code, summary = _judge(tmp_path, probes, shipped=True)
    checks = {c["name"]: c for c in summary["checks"]}
    off = checks["invariant_probes[ledger_total_zero]"]
    assert off["status"] == "no_data" and off["required"] is False
    assert off["detail"] == "probe ledger_total_zero switched off by --probes-off"
    assert "switched off: ledger_total_zero" in checks["ledger_invariant"]["detail"]
    assert code == 0, summary["reasons"]
