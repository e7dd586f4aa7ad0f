"""End-to-end helpers: run the real `harness` CLI as a user would, and watch its process tree."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class HarnessProcess:
    """A `harness` CLI run in its own process group, with every descendant it ever had."""

    proc: subprocess.Popen[str]
    runs_dir: Path
    # pid -> (command, start time): a pid alone is no identity. This machine's pid_max is 32768 and a
    # test session starts tens of thousands of processes (every PostgreSQL connection is one), so a
    # pid seen here is soon another process's: the session's own PostgreSQL was once SIGKILLed as
    # a "survivor" that way.
    seen: dict[int, tuple[str, float]] = field(default_factory=dict)

    def watch(self) -> None:
        try:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    self.seen.setdefault(child.pid, (" ".join(child.cmdline()[:3]), child.create_time()))
        except psutil.Error:
            pass

    def wait_for(self, predicate: Any, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.watch()
            if predicate():
                return True
            if self.proc.poll() is not None:
                return bool(predicate())
            time.sleep(0.2)
        return bool(predicate())

    def run_dir(self) -> Path | None:
        latest = self.runs_dir / "latest"
        return latest.resolve() if latest.exists() else None

    def survivors(self) -> dict[int, str]:
        alive = {}
        for pid, (cmd, started) in self.seen.items():
            try:
                proc = psutil.Process(pid)
                if proc.create_time() == started and proc.status() != psutil.STATUS_ZOMBIE:
                    alive[pid] = cmd
            except psutil.NoSuchProcess:
                continue
        return alive

    def finish(self, timeout_s: float) -> tuple[int, str]:
        try:
            out, _ = self.proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            out, _ = self.proc.communicate()
        return self.proc.returncode, out


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Any]:
    started: list[HarnessProcess] = []

    def start(
        *args: str, env: dict[str, str] | None = None, runs_dir: bool = True, sigint_ignored: bool = False
    ) -> HarnessProcess:
        """`harness ARGS` (with `--runs-dir` in the test's folder unless `runs_dir` is False).

        `sigint_ignored` starts it the way a background job or a CI runner does: SIGINT inherited as
        ignored, which Python keeps unless the program installs its own handler.
        """
        runs = tmp_path / "runs"
        cmd = [sys.executable, "-m", "harness.cli", *args, *(("--runs-dir", str(runs)) if runs_dir else ())]
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None,
        )
        hp = HarnessProcess(proc, runs)
        started.append(hp)
        return hp

    yield start
    for hp in started:
        if hp.proc.poll() is None:
            os.killpg(hp.proc.pid, signal.SIGKILL)
            hp.proc.communicate()
        for pid in hp.survivors():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if hp.proc.stdout is not None:
            hp.proc.stdout.close()


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def scenario_file(tmp_path: Path, text: str, name: str = "tiny") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def run_chaos(
    harness: Any, tmp_path: Path, text: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[Path, list[dict[str, Any]]]:
    """`harness run` a chaos scenario (no report) that must complete cleanly: its folder and faults."""
    run = harness("run", str(scenario_file(tmp_path, text)), "--no-report", *extra, env=env)
    code, out = run.finish(timeout_s=180)
    assert code == 0, out
    run_dir = run.run_dir()
    assert run_dir is not None, out
    record = read_json(run_dir / "run.json")
    assert record["status"] == "complete", record["errors"]
    assert run.survivors() == {}
    faults = [json.loads(line) for line in (run_dir / "faults.jsonl").read_text().splitlines()]
    assert all(f["outcome"] == "applied" for f in faults), faults
    return run_dir, faults


def db_health_during(health: list[dict[str, str]], fault: dict[str, Any]) -> list[str]:
    """The `/health/db` statuses of the polls sent during `fault`'s recorded window, in send order,
    after checking what the run recorded there: the fault was seen (a poll failed: 0 or 503), and
    the answers never flapped (no poll answered 200 between two failed ones).

    Not a timing verdict: the recorded window is wider than the database's real outage on a busy
    machine (`start` is stamped before the stop takes effect, `end` after the resume returns), so
    a poll inside it may honestly answer 200 before the stop or after the resume. The sampler
    polls one endpoint at a time, so send order is answer order.
    """
    polls = sorted(
        (float(r["ts"]), r["status"])
        for r in health
        if r["endpoint"] == "db" and fault["start"] <= float(r["ts"]) < fault["end"]
    )
    statuses = [status for _, status in polls]
    failed = [i for i, status in enumerate(statuses) if status in ("0", "503")]
    assert failed, f"no /health/db poll failed during {fault['kind']}: {statuses}"
    between = statuses[failed[0] : failed[-1] + 1]
    assert all(s in ("0", "503") for s in between), f"healthy again while still down: {statuses}"
    return statuses
