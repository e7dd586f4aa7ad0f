"""`harness matrix`: does the gate catch what it exists to catch? A detection matrix, run for real.

Against the reference service, each safeguard is switched off (`--safeguards-off`, the seeds'
"BEFORE" code) and each deliberate defect switched on (`--defects`), one at a time, each with the
one scenario of the suite that exercises it; a clean run of the suite comes first. The table says,
per row, which critical checks failed (what caught it) and how long the run took; the exit status
is 0 only if every known safeguard and defect was caught and the clean run passed.

Every safeguard and defect the reference service knows (reference_service/config.py) must have a
row below: one that has none is listed as NOT COVERED and fails the matrix, so a new switch cannot
go untested by accident.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from harness.errors import InvalidInput


@dataclass(frozen=True)
class Case:
    """One row: a switch, the scenario that exercises it, and how the service is started for it."""

    name: str  # the safeguard or defect; "clean" for the clean run
    kind: str  # "safeguard" | "defect" | "clean"
    scenario: str  # scenario (or, for the clean run, suite) name
    race_window_ms: float = 0.0  # widens each check-then-write gap so a race shows on a busy machine

    @property
    def label(self) -> str:
        """How the row is named in the table."""
        if self.kind == "clean":
            return "clean (every safeguard on, no defect)"
        if self.kind == "uncovered":
            return f"{self.name} (no row)"
        window = f", +{self.race_window_ms:g} ms window" if self.race_window_ms else ""
        return f"{self.name} {'off' if self.kind == 'safeguard' else 'on'}{window}"


# The scenario that exercises each switch. Windows as in tests/integration/test_reference_races.py:
# 25 ms lets ten requests released together overlap on a loaded 2-core machine; captures on one
# wallet overlap at 2 ms (a wider gap lets the guarded path's retries run out instead).
SAFEGUARD_CASES: dict[str, Case] = {
    "assignment_lock": Case("assignment_lock", "safeguard", "acceptance_race", 25.0),
    "order_status_lock": Case("order_status_lock", "safeguard", "status_race", 25.0),
    "wallet_isolation": Case("wallet_isolation", "safeguard", "wallet_race", 2.0),
    "idempotency": Case("idempotency", "safeguard", "idempotency_race", 25.0),
}
DEFECT_CASES: dict[str, Case] = {
    "ack_before_commit": Case("ack_before_commit", "defect", "chaos_db_restart"),
    "no_reconnect": Case("no_reconnect", "defect", "chaos_db_restart"),
    "slow_pickup": Case("slow_pickup", "defect", "steady_50"),
    # docs/business-rules.md's money rules broken on purpose (no BEFORE version to switch back to)
    "capture_unkeyed": Case("capture_unkeyed", "defect", "capture_race", 25.0),
    # No window: the money breaks in the trials where the scenario's stagger sends a capture first,
    # and a window would delay the capture twice (its idempotency claim, its balance check) against
    # the cancel's once, so the cancel committed first in every trial even at 150 ms.
    "cancel_keeps_money": Case("cancel_keeps_money", "defect", "cancel_capture_race"),
}
FAILED = re.compile(r"critical check failed: (.+)$")


@dataclass
class Row:
    """What one case did."""

    case: Case
    code: int | None = None  # the run's exit status; None: not run (no scenario covers the switch)
    caught_by: list[str] = field(default_factory=list)
    seconds: float = 0.0
    run_dir: Path | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        """A clean run passes; a switched run is caught (exit 1 with at least one failed check)."""
        if self.case.kind == "clean":
            return self.code == 0
        return self.code == 1 and bool(self.caught_by)

    @property
    def verdict(self) -> str:
        """PASS / CAUGHT when as it should be; else what went wrong."""
        if self.code is None:
            return "NOT COVERED"
        if self.case.kind == "clean":
            return "PASS" if self.code == 0 else f"FAIL (exit {self.code})"
        if self.ok:
            return "CAUGHT"
        return "MISSED" if self.code == 0 else f"NOT JUDGED (exit {self.code})"


def known_switches() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The reference service's safeguards and defects."""
    from reference_service.config import DEFECTS, SAFEGUARDS

    return tuple(SAFEGUARDS), tuple(DEFECTS)


def cases(only: Sequence[str] = ()) -> tuple[list[Case], list[str]]:
    """The cases to run (clean first) and the known switches no case covers."""
    safeguards, defects = known_switches()
    table = {**SAFEGUARD_CASES, **DEFECT_CASES}
    known = (*safeguards, *defects)
    unknown = [n for n in only if n not in known]
    if unknown:
        raise InvalidInput(
            f"--only: unknown safeguard or defect {', '.join(unknown)} (known: {', '.join(known)})"
        )
    wanted = [n for n in known if not only or n in only]
    uncovered = [n for n in wanted if n not in table]
    return [table[n] for n in wanted if n in table], uncovered


def _failed_checks(run_dir: Path) -> list[str]:
    import json

    summary = run_dir / "summary.json"
    if not summary.is_file():
        return []
    reasons = json.loads(summary.read_text()).get("reasons") or []
    return [m[1] for r in reasons if (m := FAILED.search(str(r)))]


def command(case: Case, runs: Path, speedup: float | None) -> list[str]:
    """The `harness run` a row is: what a user types to reproduce it."""
    cmd = ["harness", "run", case.scenario, "--runs-dir", str(runs / case.name)]
    if speedup is not None:
        cmd += ["--speedup", f"{speedup:g}"]
    if case.kind == "safeguard":
        cmd += ["--safeguards-off", case.name]
    if case.kind == "defect":
        cmd += ["--defects", case.name]
    if case.race_window_ms:
        cmd += ["--race-window-ms", f"{case.race_window_ms:g}"]
    return cmd


@dataclass
class _Running:
    row: Row
    proc: subprocess.Popen[bytes]
    started: float


def _start(case: Case, runs: Path, speedup: float | None) -> _Running:
    """The row's run as a child process, its output in `<case>.log`."""
    cmd = command(case, runs, speedup)
    with open(runs / f"{case.name}.log", "wb") as fh:
        fh.write((" ".join(cmd) + "\n").encode())
        fh.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", *cmd[1:]], stdout=fh, stderr=subprocess.STDOUT
        )
    return _Running(Row(case), proc, time.monotonic())


def _finish(running: _Running, runs: Path) -> Row:
    row = running.row
    row.code = running.proc.returncode
    row.seconds = time.monotonic() - running.started
    latest = runs / row.case.name / "latest"
    row.run_dir = latest.resolve() if latest.exists() else None
    row.caught_by = _failed_checks(row.run_dir) if row.run_dir is not None else []
    return row


def _run_all(plan: list[Case], root: Path, speedup: float | None, jobs: int, out: TextIO) -> list[Row]:
    """Run the rows, `jobs` at a time, in order; Ctrl-C stops the running ones (each cleans up)."""
    pending = list(plan)
    running: list[_Running] = []
    done: dict[str, Row] = {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                case = pending.pop(0)
                out.write(f"  start   {case.label}: {' '.join(command(case, root, speedup))}\n")
                out.flush()
                running.append(_start(case, root, speedup))
            time.sleep(0.5)
            for r in [r for r in running if r.proc.poll() is not None]:
                running.remove(r)
                row = _finish(r, root)
                done[row.case.name] = row
                out.write(
                    f"  {row.verdict:<7} {row.case.label} ({row.case.scenario}) in {row.seconds:.0f} s\n"
                )
                out.flush()
    finally:
        for r in running:  # interrupted: each run stops what it started and keeps its evidence
            r.proc.send_signal(signal.SIGINT)
        for r in running:
            try:
                r.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                r.proc.kill()
                r.proc.wait()
    return [done[c.name] for c in plan]


def _clean_cases(suite: str, chosen: list[Case], only: Sequence[str]) -> list[Case]:
    """The whole suite clean; with --only, just the scenarios the chosen cases use, clean."""
    if not only:
        return [Case("clean", "clean", suite)]
    scenarios = list(dict.fromkeys(c.scenario for c in chosen))
    return [Case(f"clean-{s}", "clean", s) for s in scenarios]


def table(rows: list[Row]) -> str:
    """The matrix as a Markdown table (what README shows)."""
    out = [
        "| case | scenario | verdict | caught by (critical checks failed) | time |",
        "| --- | --- | --- | --- | ---: |",
    ]
    for r in rows:
        label = r.case.label
        caught = ", ".join(f"`{c}`" for c in r.caught_by) or ("-" if r.code is not None else r.note)
        seconds = f"{r.seconds:.0f} s" if r.code is not None else "-"
        out.append(f"| {label} | {r.case.scenario} | {r.verdict} | {caught} | {seconds} |")
    return "\n".join(out) + "\n"


def run_matrix(
    suite: str = "release",
    *,
    only: Sequence[str] = (),
    speedup: float | None = None,
    jobs: int = 1,
    runs_dir: Path = Path("runs"),
    out: TextIO = sys.stdout,
) -> int:
    """Run the matrix; print its table; 0 only if every switch was caught and the clean run passed."""
    from harness.run_folder import new_run_dir
    from harness.scenario import suite_exists

    if not suite_exists(suite):
        raise InvalidInput(f"unknown suite {suite!r}")
    chosen, uncovered = cases(only)
    root = new_run_dir("matrix", parent=runs_dir)
    plan = _clean_cases(suite, chosen, only) + chosen
    out.write(
        f"loadgate matrix: {len(plan)} runs into {root}, {jobs} at a time (each one's output: <case>.log)\n"
    )
    rows = _run_all(plan, root, speedup, jobs, out)
    rows += [
        Row(Case(n, "uncovered", "-"), note="no scenario exercises it: add a row to harness/matrix.py")
        for n in uncovered
    ]
    text = table(rows)
    (root / "matrix.md").write_text(text)
    out.write("\n" + text)
    switched = [r for r in rows if r.case.kind != "clean"]
    caught = sum(1 for r in switched if r.ok)
    clean_ok = all(r.ok for r in rows if r.case.kind == "clean")
    code = 0 if clean_ok and caught == len(switched) else 1
    out.write(
        f"\nmatrix: {caught} of {len(switched)} safeguards/defects caught; clean run "
        f"{'passes' if clean_ok else 'FAILS'}: exit {code}\n"
    )
    return code


def main_args(args: Any) -> int:
    """`harness matrix` from parsed arguments."""
    if args.jobs < 1:
        raise InvalidInput(f"--jobs must be >= 1, got {args.jobs}")
    return run_matrix(
        args.suite, only=args.only, speedup=args.speedup, jobs=args.jobs, runs_dir=args.runs_dir
    )
