"""`harness run NAME`: a scenario or a suite, validated first, run, then judged.

A suite runs its scenarios in sequence into one folder (`runs/<suite>-<ts>/NN-<scenario>/`),
on one database server (a fresh database and a fresh service per scenario, so no scenario sees
another's rows), and is judged as one report. A member whose faults this run's setup cannot
inject (a database restart on a `--target` nobody gave the harness a way to restart) is skipped
with the reason, recorded in the suite's run.json (`skipped`); a scenario named on its own that
cannot run is refused (exit 2) with the same reason.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from harness.db.backends import Backend, make_backend
from harness.db_control import DbControl, open_db_control, run_setup
from harness.errors import HarnessError, InvalidInput
from harness.faults import RunSetup, unsupported, validate_all
from harness.probes import SHIPPED, ProbeSet, preflight, probe_set
from harness.profiles import plan_field, resolve_spec
from harness.run_folder import RUNS_DIR, RunRecord, iso, machine, new_run_dir, point_latest, versions
from harness.runner import Outcome, RunOptions, run_plan
from harness.scenario import (
    Scenario,
    Suite,
    is_scenario,
    load_scenario,
    load_suite,
    load_target,
    suite_exists,
)
from harness.sizing import Sizing, load_threshold_set, size
from harness.target import check_live
from loadgate_contract.plan import PlanDoc
from loadgate_contract.records import SUITE_KIND, RunStatus


@dataclass(frozen=True)
class Planned:
    """One scenario, resolved and validated, ready to run."""

    scenario: Scenario
    plan: PlanDoc
    text: str
    skipped: str | None = None  # why this suite member cannot run in this setup
    probes: ProbeSet = SHIPPED
    sizing: Sizing | None = None  # how the run was sized so every critical check is judged


def _probes(scenario: Scenario, suite: Suite | None, options: RunOptions | None) -> ProbeSet:
    """The scenario's probe set: --probes, else its own `probes`, else its suite's, else the shipped.

    Switched-off names add up from every source, each recorded with who switched it off.
    """
    flag_dir, flag_off = (options.probes, options.probes_off) if options is not None else (None, ())
    sources = [("--probes", flag_dir), (f"{scenario.path}: probes", scenario.probes)]
    if suite is not None:
        sources.append((f"{suite.source}: probes", suite.probes))
    where, directory = next(((w, d) for w, d in sources if d is not None), ("", None))
    off = [(n, "--probes-off") for n in flag_off]
    off += [(n, f"{scenario.path}: probes_off") for n in scenario.probes_off]
    if suite is not None:
        off += [(n, f"{suite.source}: probes_off") for n in suite.probes_off]
    first: dict[str, str] = {}
    for name, who in off:
        first.setdefault(name, who)
    return probe_set(directory, list(first.items()), where=where)


def _plan(
    scenario: Scenario,
    speedup: float | None,
    context: str | RunSetup,
    *,
    may_skip: bool,
    probes: ProbeSet = SHIPPED,
    profile: str | None = None,
    thresholds_path: Path | None = None,
) -> Planned:
    sizing = None
    scenario_run = scenario
    if scenario.sizing is not None:  # after the scenario's own thresholds were found valid
        if scenario.thresholds:
            from reports import validate_thresholds

            validate_thresholds([dict(t) for t in scenario.thresholds], str(scenario.path))
        scenario_run, sizing = size(scenario, speedup, load_threshold_set(thresholds_path, scenario))
        speedup = scenario_run.speedup if sizing is not None else speedup
    plan = scenario_run.resolve(speedup).to_json()
    # --profile, else the scenario's `profile`, else API.md's; loaded now, so a broken one stops here.
    plan["profile"] = plan_field(resolve_spec(profile or scenario.profile))
    skipped = None
    if plan["faults"]:
        try:
            validate_all(plan["faults"], context, duration_s=plan["duration_s"], check_context=False)
            skipped = unsupported(plan["faults"], context)
            if skipped is not None and not may_skip:
                raise InvalidInput(skipped)
        except InvalidInput as exc:
            raise InvalidInput(f"{scenario.path}: {exc}") from exc
    thresholds = plan["thresholds"]
    if thresholds:
        from reports import validate_thresholds

        validate_thresholds(thresholds, str(scenario.path))
    return Planned(scenario, plan, scenario.path.read_text(), skipped, probes, sizing)


def plan_all(
    name: str,
    speedup: float | None,
    context: str | RunSetup,
    options: RunOptions | None = None,
    thresholds: Path | None = None,
) -> tuple[str, bool, list[Planned]]:
    """Resolve `name` (a suite or a scenario) into validated plans, before anything starts.

    A suite member the context cannot inject the faults of comes back with `skipped` set; a
    scenario named on its own raises InvalidInput instead (the user asked for exactly that one).
    """
    flag = options.profile if options is not None else None
    if suite_exists(name):
        suite = load_suite(name)
        planned = []
        for member in suite.scenarios:
            member_speedup = speedup if speedup is not None else member.speedup
            probes = _probes(member.scenario, suite, options)
            planned.append(
                _plan(
                    member.scenario,
                    member_speedup,
                    context,
                    may_skip=True,
                    probes=probes,
                    thresholds_path=thresholds,
                    profile=flag,
                )
            )
        return suite.name, True, planned
    if not is_scenario(name):
        load_target(name)  # raises "unknown scenario or suite", with a did-you-mean over both
    scenario = load_scenario(name)
    probes = _probes(scenario, None, options)
    planned_one = _plan(
        scenario, speedup, context, may_skip=False, probes=probes, thresholds_path=thresholds, profile=flag
    )
    return scenario.name, False, [planned_one]


def _report(run_dir: Path, out: TextIO, *, thresholds: Path | None, fail_on_insufficient: bool) -> int:
    from reports import generate

    return generate(run_dir, thresholds_path=thresholds, fail_on_insufficient=fail_on_insufficient, out=out)


def _check_toxiproxy(options: RunOptions, out: TextIO) -> None:
    """Before anything starts: a Toxiproxy that is not on loopback or does not answer is an error."""
    from harness.faults.toxiproxy import probe

    assert options.toxiproxy_url is not None
    if options.target:
        raise InvalidInput("--toxiproxy: with --target the harness starts no database to put a proxy before")
    version = probe(options.toxiproxy_url)
    out.write(f"loadgate: db_latency faults through Toxiproxy {version} at {options.toxiproxy_url}\n")


def run_named(
    name: str,
    options: RunOptions,
    *,
    backend_kind: str = "embedded",
    docker_image: str | None = None,
    report: bool = True,
    thresholds: Path | None = None,
    fail_on_insufficient: bool = False,
    runs_dir: Path = RUNS_DIR,
    out: TextIO = sys.stdout,
) -> int:
    """Run a scenario or suite; return the gate's exit status (0 pass, 1 fail, 2 harness failure)."""
    external = "external" if options.database_url else backend_kind
    context_kind = "target" if options.target else external
    setup, hooks = run_setup(context_kind, options.db_container, options.db_hooks)
    title, is_suite, planned = plan_all(name, options.speedup, setup, options, thresholds)
    if options.toxiproxy_url:
        _check_toxiproxy(options, out)
    if options.target:
        check_live(options.target, options.tls)
        tls = "" if not options.target.startswith("https") else f" (TLS {options.tls.describe()})"
        out.write(f"loadgate: target {options.target} answers{tls}\n")
    runnable = [p for p in planned if p.skipped is None]
    if not runnable:
        raise InvalidInput("nothing to run: every member was skipped:\n" + _skipped_text(planned))
    if options.target and options.database_url:
        _preflight_probes(runnable, options.database_url, out)
    db_control = open_db_control(setup, hooks, options.database_url)
    try:
        return _run_planned(
            title,
            is_suite,
            planned,
            options,
            db_control,
            backend_kind=backend_kind,
            docker_image=docker_image,
            report=report,
            thresholds=thresholds,
            fail_on_insufficient=fail_on_insufficient,
            runs_dir=runs_dir,
            out=out,
        )
    finally:
        if db_control is not None:
            db_control.close()


def _preflight_probes(planned: list[Planned], database_url: str, out: TextIO) -> None:
    """A target's schema exists before the run: a probe it refuses stops the run before any load."""
    distinct = {(str(p.probes.folder), tuple(sorted(p.probes.off))): p.probes for p in planned}
    for probes in distinct.values():
        refused = preflight(database_url, probes)
        if refused:
            names = ",".join(line.split(":")[0].removeprefix("probe ") for line in refused)
            fix = (
                "point --probes at probes written for your schema (docs/probes.md)"
                if probes.directory is None
                else f"fix them in {probes.directory} for your schema (docs/probes.md)"
            )
            raise InvalidInput(
                f"the invariant probes of {probes.folder} cannot run on the target's database:\n  "
                + "\n  ".join(refused)
                + f"\n{fix}, or switch them off with --probes-off {names}"
            )
        out.write(f"loadgate: the invariant probes of {probes.folder} plan on the target's database\n")


def _skipped_text(planned: list[Planned]) -> str:
    return "\n".join(f"  {p.scenario.name}: skipped: {p.skipped}" for p in planned if p.skipped)


def _run_planned(
    title: str,
    is_suite: bool,
    planned: list[Planned],
    options: RunOptions,
    db_control: DbControl | None,
    *,
    backend_kind: str,
    docker_image: str | None,
    report: bool,
    thresholds: Path | None,
    fail_on_insufficient: bool,
    runs_dir: Path,
    out: TextIO,
) -> int:
    root = new_run_dir(title, parent=runs_dir)
    point_latest(root, parent=runs_dir)
    out.write(f"loadgate: {'suite' if is_suite else 'scenario'} {title} -> {root}\n")
    backend: Backend | None = None
    outcomes: list[Outcome] = []
    suite_record: RunRecord | None = None
    interrupted = False
    try:
        if is_suite:
            suite_record = RunRecord(
                root,
                {
                    "id": root.name,
                    "scenario": title,
                    "kind": SUITE_KIND,
                    "status": RunStatus.RUNNING,
                    "started_at": iso(time.time()),
                    "scenarios": [p.scenario.name for p in planned],
                    "children": [],
                    "skipped": [
                        {"scenario": p.scenario.name, "reason": p.skipped} for p in planned if p.skipped
                    ],
                    "target": options.target,
                    "versions": versions(),
                    "machine": machine(),
                },
            )
            suite_record.save()
        if not options.target:
            backend = make_backend(backend_kind, database_url=options.database_url, docker_image=docker_image)
            out.write(f"loadgate: starting {backend.kind} PostgreSQL\n")
            backend.start()
        for i, item in enumerate(planned, start=1):
            if item.skipped is not None:
                out.write(f"loadgate: [{i}/{len(planned)}] {item.scenario.name}: skipped: {item.skipped}\n")
                continue
            run_dir = root
            if is_suite:
                run_dir = root / f"{i:02d}-{item.scenario.name}"
                run_dir.mkdir()
                assert suite_record is not None
                suite_record.data["children"].append(run_dir.name)
                suite_record.save()
            out.write(
                f"loadgate: [{i}/{len(planned)}] {item.scenario.name}: {item.plan['duration_s']:.0f}s "
                f"at speed-up x{item.plan['speedup']:g}\n"
            )
            if item.sizing is not None:
                out.write(item.sizing.text())
                (run_dir / "sizing.json").write_text(json.dumps(item.sizing.to_json(), indent=2) + "\n")
            scenario_options = dataclasses.replace(options, probe_set=item.probes)
            outcomes.append(
                run_plan(
                    item.plan,
                    item.text,
                    run_dir,
                    scenario_options,
                    backend=backend,
                    db_control=db_control,
                    out=out,
                )
            )
    except KeyboardInterrupt:
        interrupted = True
        out.write("\nloadgate: interrupted; everything started was stopped, evidence kept\n")
    finally:
        if backend is not None:
            backend.stop()
        if suite_record is not None:
            statuses = {o.status for o in outcomes}
            ran = [p for p in planned if p.skipped is None]
            done = len(outcomes) == len(ran) and statuses <= {RunStatus.COMPLETE}
            suite_record.update(
                status=RunStatus.COMPLETE if done and not interrupted else RunStatus.INCOMPLETE,
                ended_at=iso(time.time()),
            )
    failed = [o for o in outcomes if o.status == RunStatus.FAILED]
    for o in failed:
        out.write(f"loadgate: {o.run_dir.name} failed: {'; '.join(o.errors)}\n")
    code = 2 if failed else 0
    if report:
        try:
            judged = _report(root, out, thresholds=thresholds, fail_on_insufficient=fail_on_insufficient)
        except HarnessError as exc:
            out.write(f"loadgate: report failed: {exc}\n")
            judged = 2
        code = max(code, judged)
    out.write(f"loadgate: run folder {root}\n")
    if interrupted:
        return 130
    return code
