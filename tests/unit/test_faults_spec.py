"""Fault specs are checked field by field before a run, and the scheduler always reverts and logs."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from harness.errors import InvalidInput, RunFailed
from harness.faults import FaultContext, FaultFailed, FaultScheduler, validate, validate_all
from harness.faults import schedule as schedule_module
from harness.processes import wait_until


def _spec(kind: str, start: float = 0.0, duration: float = 1.0, **params: Any) -> dict[str, Any]:
    return {"kind": kind, "start_s": start, "duration_s": duration, "target": None, "params": params}


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"kind": "nope", "start_s": 0, "duration_s": 1}, "fault.kind"),
        ({"kind": "db_pause", "duration_s": 1}, "fault.start_s"),
        ({"kind": "db_pause", "start_s": -1, "duration_s": 1}, "fault.start_s"),
        ({"kind": "db_pause", "start_s": 0, "duration_s": 0}, "fault.duration_s"),
        ({"kind": "db_pause", "start_s": 0, "duration_s": "2"}, "fault.duration_s"),
        ({"kind": "db_pause", "start_s": 0, "duration_s": 1, "when": 3}, "fault.when"),
        ({"kind": "db_pause", "start_s": 0, "duration_s": 1, "target": 3}, "fault.target"),
        (_spec("db_pause", signal="STOP"), "fault.params.signal"),
        (_spec("db_latency"), "fault.params"),
        (_spec("db_latency", latency_ms=-5), "fault.params.latency_ms"),
        (_spec("db_latency", latency_ms=True), "fault.params.latency_ms"),
        (_spec("db_latency", reset_peer="yes"), "fault.params.reset_peer"),
        (_spec("db_latency", bandwidth_kbps=0), "fault.params.bandwidth_kbps"),
        (_spec("db_latency", latency=100), "fault.params.latency"),
        (_spec("pool_exhaustion", connections=0), "fault.params.connections"),
        (_spec("pool_exhaustion", connections=2.5), "fault.params.connections"),
        (_spec("lock_hold"), "fault.params.table"),
        (_spec("lock_hold", table="wallets; drop table x"), "fault.params.table"),
        (_spec("lock_hold", table="wallets", where=""), "fault.params.where"),
        (_spec("lock_hold", table="wallets", where="true; drop table x"), "fault.params.where"),
        (_spec("lock_hold", table="wallets", limit=0), "fault.params.limit"),
        (_spec("service_crash", grace=1), "fault.params.grace"),
    ],
)
def test_validation_errors_name_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        validate(spec)
    assert str(error.value).startswith(f"{field}:") or str(error.value).startswith(f"{field}.")


@pytest.mark.parametrize(
    "spec",
    [
        _spec("db_restart"),
        _spec("db_crash"),
        _spec("db_pause"),
        _spec("db_latency", latency_ms=200, jitter_ms=50),
        _spec("db_latency", reset_peer=True),
        _spec("db_latency", timeout_ms=0),
        _spec("db_latency", bandwidth_kbps=64),
        _spec("pool_exhaustion"),
        _spec("pool_exhaustion", connections=150),
        _spec("lock_hold", table="wallets"),
        _spec("lock_hold", table="public.shipping_assignments", where="status = 'open'", limit=5),
        _spec("service_crash"),
        {"kind": "db_pause", "start_s": 1, "duration_s": 2.5, "params": None},
    ],
)
def test_valid_specs_pass(spec: dict[str, Any]) -> None:
    validate(spec)
    validate_all([spec], "embedded")


@pytest.mark.parametrize("kind", ["db_restart", "db_crash", "db_pause"])
def test_database_faults_run_on_the_container_the_docker_backend_owns(kind: str) -> None:
    validate_all([_spec(kind)], "docker")


@pytest.mark.parametrize(
    ("kind", "context_kind"),
    [
        ("db_pause", "external"),
        ("db_crash", "external"),
        ("db_restart", "target"),
        ("db_latency", "target"),
        ("service_crash", "target"),
        ("lock_hold", "target"),
        ("pool_exhaustion", "target"),
    ],
)
def test_faults_the_context_cannot_inject_are_refused_before_the_run(kind: str, context_kind: str) -> None:
    needed: dict[str, dict[str, Any]] = {"db_latency": {"latency_ms": 1}, "lock_hold": {"table": "wallets"}}
    params = needed.get(kind, {})
    with pytest.raises(InvalidInput, match=rf"^faults\[0\]\.kind: {kind} needs .* {context_kind}$"):
        validate_all([_spec(kind, **params)], context_kind)


def test_unknown_context_kind_and_overlaps_and_run_length() -> None:
    with pytest.raises(InvalidInput, match="context kind"):
        validate_all([], "kubernetes")
    with pytest.raises(
        InvalidInput, match=r"^faults\[1\]\.start_s: db_crash overlaps db_pause of faults\[0\]"
    ):
        validate_all([_spec("db_pause", 0, 5), _spec("db_crash", 4, 2)], "embedded")
    validate_all(
        [_spec("db_pause", 0, 5), _spec("db_crash", 5, 2), _spec("lock_hold", 1, 9, table="w")], "embedded"
    )
    with pytest.raises(InvalidInput, match=r"^faults\[0\]\.duration_s: .* after the run's 10s"):
        validate_all([_spec("db_pause", 8, 5)], "embedded", duration_s=10)


def test_fault_failed_is_a_run_failure() -> None:
    assert issubclass(FaultFailed, RunFailed)


class FakeInjector:
    def __init__(
        self, log: list[str], name: str, *, fail_apply: bool = False, fail_revert: bool = False
    ) -> None:
        self.log, self.name, self.fail_apply, self.fail_revert = log, name, fail_apply, fail_revert

    def apply(self) -> str:
        self.log.append(f"apply {self.name}")
        if self.fail_apply:
            raise FaultFailed(f"{self.name} would not apply")
        return f"{self.name} on"

    def revert(self) -> str:
        self.log.append(f"revert {self.name}")
        if self.fail_revert:
            raise FaultFailed(f"{self.name} would not revert")
        return f"{self.name} off"


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    log: list[str] = []

    def fake(spec: Mapping[str, Any], context: FaultContext) -> FakeInjector:
        params = spec.get("params") or {}
        return FakeInjector(log, str(params.get("name")), **{k: v for k, v in params.items() if k != "name"})

    monkeypatch.setattr(schedule_module, "injector", fake)
    return log


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_scheduler_applies_reverts_and_logs_each_fault_once(fakes: list[str], tmp_path: Path) -> None:
    path = tmp_path / "faults.jsonl"
    faults = [_spec("db_pause", 0.0, 0.3, name="a"), _spec("lock_hold", 0.1, 0.3, name="b")]
    t0 = time.time()
    scheduler = FaultScheduler(faults, FaultContext(), path, t0=t0)
    scheduler.start()
    assert wait_until(lambda: scheduler.active() == ["db_pause", "lock_hold"], timeout_s=5, interval_s=0.01)
    assert wait_until(lambda: len(_lines(path)) == 2, timeout_s=5, interval_s=0.02)
    scheduler.stop()
    assert fakes == ["apply a", "apply b", "revert a", "revert b"]
    first, second = _lines(path)
    assert set(first) == {"kind", "target", "start", "end", "params", "outcome", "detail"}
    assert first["outcome"] == "applied" and first["detail"] == "a on; a off"
    # Reverted at its scheduled end, never before (its apply may start late on a busy machine).
    assert t0 <= first["start"] < first["end"] and first["end"] >= t0 + 0.3 and second["kind"] == "lock_hold"
    assert scheduler.errors == [] and scheduler.active() == []


def test_a_failed_apply_is_still_reverted_and_logged_failed(fakes: list[str], tmp_path: Path) -> None:
    path = tmp_path / "faults.jsonl"
    scheduler = FaultScheduler(
        [_spec("db_pause", 0, 5, name="a", fail_apply=True)], FaultContext(), path, time.time()
    )
    scheduler.start()
    assert wait_until(lambda: len(_lines(path)) == 1, timeout_s=5, interval_s=0.02)
    scheduler.stop()
    assert fakes == ["apply a", "revert a"]
    (line,) = _lines(path)
    assert line["outcome"] == "failed" and "apply failed: FaultFailed: a would not apply" in line["detail"]
    assert scheduler.errors and "apply failed" in scheduler.errors[0]


def test_stop_reverts_what_is_active_and_logs_what_never_started(fakes: list[str], tmp_path: Path) -> None:
    path = tmp_path / "faults.jsonl"
    faults = [_spec("db_pause", 0, 60, name="a", fail_revert=True), _spec("lock_hold", 30, 5, name="b")]
    scheduler = FaultScheduler(faults, FaultContext(), path, time.time())
    scheduler.start()
    assert wait_until(lambda: scheduler.active() == ["db_pause"], timeout_s=5, interval_s=0.01)
    scheduler.stop()
    assert fakes == ["apply a", "revert a"]
    by_kind = {line["kind"]: line for line in _lines(path)}
    assert by_kind["db_pause"]["outcome"] == "failed" and "revert failed" in by_kind["db_pause"]["detail"]
    assert by_kind["lock_hold"]["outcome"] == "failed" and "not applied" in by_kind["lock_hold"]["detail"]
    assert any("revert failed" in e for e in scheduler.errors)
