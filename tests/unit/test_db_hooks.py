"""`--db-hooks` files: what is accepted, and how a hook's failure, timeout and output are recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InvalidInput
from harness.faults import FaultContext, FaultFailed, injector
from harness.faults.db_hooks import load_hooks


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hooks.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "no hooks"),
        ('restart = "x"', "unknown key 'restart'"),
        ("stop = 3", "stop must be a non-empty shell command"),
        ('stop = " "', "stop must be a non-empty shell command"),
        ('stop = "x"\ntimeout_s = 0', "timeout_s must be a number > 0"),
        ("stop = ", "not valid TOML"),
    ],
)
def test_bad_hooks_files_are_refused(tmp_path: Path, text: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        load_hooks(_file(tmp_path, text))


def test_a_restart_runs_stop_then_start_and_logs_both(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    hooks = load_hooks(
        _file(tmp_path, f'stop = "echo stopped >> {marks}"\nstart = "echo started >> {marks}"')
    )
    log = tmp_path / "db_hooks.log"
    fault = injector(
        {"kind": "db_restart", "start_s": 0, "duration_s": 1}, FaultContext(hooks=hooks.logging_to(log))
    )
    assert "stop hook ok" in fault.apply()
    assert "start hook ok" in fault.revert()
    assert marks.read_text().split() == ["stopped", "started"]
    text = log.read_text()
    assert "db_restart stop: echo stopped" in text and "start: exit 0" in text


def test_a_failing_or_hanging_hook_is_a_fault_failure(tmp_path: Path) -> None:
    hooks = load_hooks(_file(tmp_path, 'kill = "echo nope; exit 3"\nstart = "sleep 30"\ntimeout_s = 0.5'))
    log = tmp_path / "db_hooks.log"
    fault = injector(
        {"kind": "db_crash", "start_s": 0, "duration_s": 1}, FaultContext(hooks=hooks.logging_to(log))
    )
    with pytest.raises(FaultFailed, match="the kill hook exited 3"):
        fault.apply()
    with pytest.raises(FaultFailed, match=r"did not finish within 0\.5s"):
        fault.revert()
    assert "nope" in log.read_text() and "killed after 0.5s" in log.read_text()
