"""Scenarios and suites: find the TOML, validate all of it, resolve it into a plan.

The public face of the scenario model (types re-exported from `scenario_model`):

    load_scenario("peak_200") -> Scenario        # or a path to a .toml file
    load_suite("release") -> Suite                # every member validated too
    load_target("release" | "peak_200") -> Suite  # what `harness run NAME` needs
    suite_exists("release") -> bool
    list_scenarios() -> list[Scenario];  list_suites() -> list[Suite]
    Scenario.resolve(speedup) -> Plan;  Plan.to_json() -> plan.json (docs/contracts.md)

Design notes (why it looks like this):
- Validation first, all errors at once, each with file, field and reason, raised as one
  `InvalidInput` before any process starts (see `scenario_parse`).
- Frozen dataclasses with StrEnum kinds rather than dicts: a plan is data the whole run trusts.
- One open-model vocabulary for every kind. A load scenario is phases of per-flow rates; a
  capacity scenario is the same with generated phases `step-1..N` (so reports can judge every step
  like any phase); a race is a single `race` phase with zero rates plus the `race` table. The Locust
  side therefore needs only one shape (phases by elapsed time) for all three.
- A phase may carry its own `rates` (merged over the scenario's `[rates]`) as well as a `scale`,
  because seed 000's average and peak columns are not one ratio apart (agents 40/150, admin 10/50):
  "warm-up at average" must be the documented averages, not peak x 0.25.
- The scenario's concurrency ("users") is `max_in_flight`: in an open model the number of virtual
  users is an outcome (arrival rate x latency), so the scenario bounds it instead of setting it; an
  arrival over the bound is recorded as DROPPED, never silently delayed.
- The speed-up divides every duration, race intervals and fault times included, so a plan at any
  speed-up is the nominal scenario compressed in time.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from harness.errors import InvalidInput
from harness.scenario_model import CapacitySpec, PhaseSpec, Scenario, Suite, SuiteEntry
from harness.scenario_parse import Checker, did_you_mean, parse_scenario, probe_keys
from loadgate_contract.plan import FLOWS, ArrivalKind, FaultSpec, Kind, Plan, PlanPhase, RaceKind, RaceSpec

__all__ = [
    "FLOWS",
    "SCENARIOS_DIR",
    "ArrivalKind",
    "CapacitySpec",
    "FaultSpec",
    "Kind",
    "PhaseSpec",
    "Plan",
    "PlanPhase",
    "RaceKind",
    "RaceSpec",
    "Scenario",
    "Suite",
    "SuiteEntry",
    "list_scenarios",
    "list_suites",
    "load_scenario",
    "load_suite",
    "load_target",
    "suite_exists",
]

SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"
SUITE_KEYS = {"name", "description", "scenarios", "probes", "probes_off"}
ENTRY_KEYS = {"name", "speedup"}


def _display(path: Path) -> str:
    """The path as the user will recognise it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise InvalidInput(f"{_display(path)}: not valid TOML: {e}") from e
    except OSError as e:
        raise InvalidInput(f"{_display(path)}: cannot read: {e.strerror}") from e


def _known(directory: Path) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.toml")) if directory.is_dir() else []


def _find(name_or_path: str | Path, directory: Path, what: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.parent != Path("."):
        if candidate.is_file():
            return candidate
        raise InvalidInput(f"{candidate}: no such {what} file")
    path = directory / f"{name_or_path}.toml"
    if path.is_file():
        return path
    known = _known(directory)
    raise InvalidInput(
        f"unknown {what} {str(name_or_path)!r}{did_you_mean(str(name_or_path), tuple(known))}; "
        f"known {what}s in {_display(directory)}: {', '.join(known) or '(none)'}"
    )


def load_scenario(name_or_path: str | Path, *, scenarios_dir: Path = SCENARIOS_DIR) -> Scenario:
    """Find (by name in `scenarios_dir`, or by path), parse and validate one scenario."""
    path = _find(name_or_path, scenarios_dir, "scenario")
    checker = Checker(_display(path))
    scenario = parse_scenario(_read_toml(path), checker, default_name=path.stem)
    if checker.errors or scenario is None:
        raise InvalidInput("invalid scenario:\n" + "\n".join(checker.errors))
    # A probe folder is relative to the file that names it, wherever the harness is started.
    probes = path.parent / scenario.probes if scenario.probes is not None else None
    # So is a profile file (a dotted module name stays as written).
    profile = scenario.profile
    if profile is not None and (profile.endswith(".py") or "/" in profile):
        profile = str((path.parent / profile).resolve())
    return dataclasses.replace(scenario, source=path, probes=probes, profile=profile)


def list_scenarios(*, scenarios_dir: Path = SCENARIOS_DIR) -> list[Scenario]:
    """Every scenario in `scenarios_dir`, validated, sorted by name (errors of all files at once)."""
    out: list[Scenario] = []
    errors: list[str] = []
    for path in sorted(scenarios_dir.glob("*.toml")):
        try:
            out.append(load_scenario(path, scenarios_dir=scenarios_dir))
        except InvalidInput as e:
            errors.append(str(e))
    if errors:
        raise InvalidInput("\n".join(errors))
    return out


def load_suite(name_or_path: str | Path, *, scenarios_dir: Path = SCENARIOS_DIR) -> Suite:
    """Find, parse and validate a suite and every scenario it names (all errors at once)."""
    path = _find(name_or_path, scenarios_dir / "suites", "suite")
    where = _display(path)
    doc = _read_toml(path)
    c = Checker(where)
    c.unknown_keys(doc, SUITE_KEYS)
    name = c.string(doc, "name", "name", path.stem)
    description = c.string(doc, "description", "description", "")
    probes, probes_off = probe_keys(c, doc)
    raw = doc.get("scenarios")
    if not isinstance(raw, list) or not raw:
        c.error("scenarios", "required: a non-empty array of scenario names or {name, speedup} tables")
        raw = []
    entries: list[SuiteEntry] = []
    # A suite file outside the project (`my/suites/x.toml`) may name scenarios of its own folder
    # (`my/*.toml`) as well as the project's; its own come first.
    beside = path.resolve().parent.parent
    dirs = [beside, scenarios_dir] if beside != scenarios_dir.resolve() else [scenarios_dir]
    known = tuple(sorted({n for d in dirs for n in _known(d)}))
    for i, item in enumerate(raw):
        p = f"scenarios[{i}]"
        member: str | None
        speedup: float | None = None
        if isinstance(item, str):
            member = item
        elif isinstance(item, dict):
            c.unknown_keys(item, ENTRY_KEYS, f"{p}.")
            member = c.string(item, "name", f"{p}.name")
            speedup = c.number(item, "speedup", f"{p}.speedup") if "speedup" in item else None
        else:
            c.error(p, f"must be a scenario name or a {{name, speedup}} table, got {type(item).__name__}")
            continue
        if member is None:
            continue
        # A team's suite may list its own scenario files, relative to the suite file.
        by_path = member.endswith(".toml") or "/" in member
        if not by_path and member not in known:
            c.error(p, f"unknown scenario {member!r}{did_you_mean(member, known)}; known: {', '.join(known)}")
            continue
        try:
            if by_path:
                entries.append(
                    SuiteEntry(load_scenario(path.parent / member, scenarios_dir=scenarios_dir), speedup)
                )
            else:
                home = next(d for d in dirs if (d / f"{member}.toml").is_file())
                entries.append(SuiteEntry(load_scenario(member, scenarios_dir=home), speedup))
        except InvalidInput as e:
            c.error(p, f"scenario {member!r} is invalid:\n{e}")
    if c.errors or name is None or description is None:
        raise InvalidInput("invalid suite:\n" + "\n".join(c.errors))
    return Suite(
        name=name,
        description=description,
        entries=tuple(entries),
        source=path,
        probes=path.parent / probes if probes else None,
        probes_off=probes_off,
    )


def load_target(name: str, *, scenarios_dir: Path = SCENARIOS_DIR, speedup: float | None = None) -> Suite:
    """A suite by name, or a single scenario wrapped as a one-member suite; `speedup` overrides all."""
    suites = scenarios_dir / "suites"
    if (suites / f"{name}.toml").is_file() or (
        Path(name).suffix == ".toml" and Path(name).parent.name == "suites"
    ):
        suite = load_suite(name, scenarios_dir=scenarios_dir)
    elif is_scenario(name, scenarios_dir=scenarios_dir):
        scenario = load_scenario(name, scenarios_dir=scenarios_dir)
        suite = Suite(scenario.name, scenario.description, (SuiteEntry(scenario),), scenario.source)
    else:
        known = _known(scenarios_dir) + _known(suites)
        raise InvalidInput(
            f"unknown scenario or suite {name!r}{did_you_mean(name, tuple(known))}; "
            f"scenarios: {', '.join(_known(scenarios_dir))}; suites: {', '.join(_known(suites))}"
        )
    if speedup is not None:
        suite = Suite(
            suite.name,
            suite.description,
            tuple(SuiteEntry(e.scenario, speedup) for e in suite.entries),
            suite.source,
        )
    return suite


def is_scenario(name: str, *, scenarios_dir: Path = SCENARIOS_DIR) -> bool:
    """Whether `name` names a shipped scenario or is a path to a scenario file."""
    return Path(name).suffix == ".toml" or (scenarios_dir / f"{name}.toml").is_file()


def suite_exists(name: str, *, scenarios_dir: Path = SCENARIOS_DIR) -> bool:
    """Whether `name` names a suite (`scenarios/suites/<name>.toml`) or is a path to a suite file."""
    path = Path(name)
    if path.suffix == ".toml":
        return path.is_file() and path.parent.name == "suites"
    return (scenarios_dir / "suites" / f"{name}.toml").is_file()


def list_suites(*, scenarios_dir: Path = SCENARIOS_DIR) -> list[Suite]:
    """Every suite in `scenarios_dir/suites`, validated, sorted by name."""
    return [
        load_suite(p, scenarios_dir=scenarios_dir) for p in sorted((scenarios_dir / "suites").glob("*.toml"))
    ]
