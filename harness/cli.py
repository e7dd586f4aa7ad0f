"""`harness`: run scenarios and suites, list them, judge and compare runs, serve the stack.

Exit status everywhere: 0 pass, 1 a critical check failed, 2 the harness could not run or judge,
130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from harness.errors import HarnessError, InvalidInput

if TYPE_CHECKING:
    from harness.scenario import Scenario
    from loadgate_contract.plan import PlanDoc

SAFEGUARDS = ("assignment_lock", "order_status_lock", "wallet_isolation", "idempotency")


def _safeguards(value: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in SAFEGUARDS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown safeguard {', '.join(unknown)} (known: {', '.join(SAFEGUARDS)})"
        )
    return names


def _defects(value: str) -> tuple[str, ...]:
    from reference_service.config import DEFECTS

    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in DEFECTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown defect {', '.join(unknown)} (known: {', '.join(DEFECTS)})")
    return names


def _names(value: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in value.split(",") if n.strip())


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return number


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="harness", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario or a suite, then judge it")
    run.add_argument("name", help="scenario or suite name (see `harness list`), or a path to a .toml")
    run.add_argument("--speedup", type=_positive, help="multiply every rate, divide every duration")
    run.add_argument("--workers", type=int, default=0, help="local Locust worker processes (0: one process)")
    run.add_argument(
        "--target",
        metavar="URL",
        help="run against a backend someone else runs (http(s)://host[:port]); starts nothing",
    )
    run.add_argument(
        "--insecure", action="store_true", help="with --target https://: do not verify its TLS certificate"
    )
    run.add_argument(
        "--ca-bundle", type=Path, metavar="PATH", help="with --target https://: trust this CA file (PEM)"
    )
    run.add_argument(
        "--db-container",
        metavar="NAME_OR_ID",
        help="the target's PostgreSQL container on $DOCKER_HOST's engine: gives back db_restart/crash/pause",
    )
    run.add_argument(
        "--db-hooks",
        type=Path,
        metavar="FILE",
        help="TOML of stop/start/kill/pause/resume commands for the target's database (docs/targets.md)",
    )
    run.add_argument(
        "--fixtures", type=Path, help="with --target: that backend's seeded users (fixtures JSON)"
    )
    run.add_argument(
        "--users",
        type=Path,
        metavar="FILE",
        help="with --target: email/password/role of its users; logged in into the run's fixtures.json",
    )
    run.add_argument(
        "--service-log",
        type=Path,
        metavar="PATH",
        help="with --target: that service's JSON-lines log, copied into service.jsonl as it grows",
    )
    run.add_argument(
        "--database-url", default=None, help="existing PostgreSQL (default: $DATABASE_URL or embedded)"
    )
    run.add_argument(
        "--backend",
        choices=["embedded", "docker"],
        default="embedded",
        help="PostgreSQL as our child process (default) or in a container of $DOCKER_HOST's engine",
    )
    run.add_argument(
        "--docker-image",
        metavar="IMAGE",
        help="with --backend docker: this image (e.g. postgres:18) instead of one built from the wheel",
    )
    run.add_argument(
        "--toxiproxy",
        metavar="URL",
        help="db_latency through this Toxiproxy server's API (loopback; default: $TOXIPROXY_URL, "
        "else loadgate's own proxy)",
    )
    run.add_argument(
        "--safeguards-off", type=_safeguards, default=(), metavar="A,B", help=", ".join(SAFEGUARDS)
    )
    run.add_argument(
        "--race-window-ms",
        type=_race_window,
        default=0.0,
        metavar="MS",
        help="reference service pauses MS between each safeguarded check and its write (default 0)",
    )
    run.add_argument(
        "--defects",
        type=_defects,
        default=(),
        metavar="A,B",
        help=argparse.SUPPRESS,  # deliberately broken service (reference_service/config.py DEFECTS)
    )
    run.add_argument(
        "--master", action="store_true", help="Locust master waiting for --expect-workers remote workers"
    )
    run.add_argument("--expect-workers", type=int, default=0)
    run.add_argument("--master-bind-host", default="127.0.0.1")
    run.add_argument("--master-port", type=int, default=None)
    run.add_argument("--no-report", action="store_true")
    run.add_argument("--thresholds", type=Path, help="threshold file (default reports/thresholds.toml)")
    run.add_argument(
        "--fail-on-insufficient", action="store_true", help="too few samples fails a critical check"
    )
    run.add_argument("--runs-dir", type=Path, default=Path("runs"))
    run.add_argument(
        "--probes",
        type=Path,
        metavar="DIR",
        help="run the invariant probes (.sql) of DIR instead of the shipped ones (docs/probes.md)",
    )
    run.add_argument(
        "--probes-off", type=_names, default=(), metavar="A,B", help="switch these probes off (recorded)"
    )

    run.add_argument(
        "--profile",
        metavar="PATH",
        help="target profile: a .py file or dotted module saying each step's request (docs/profiles.md); "
        "default API.md's",
    )

    prof = sub.add_parser("profile", help="target profiles (docs/profiles.md)")
    prof_sub = prof.add_subparsers(dest="profile_command", required=True)
    pcheck = prof_sub.add_parser("check", help="call each step of a profile once against a live backend")
    pcheck.add_argument("--target", required=True, metavar="URL", help="the backend's base URL")
    pcheck.add_argument("--profile", metavar="PATH", help="a .py file or dotted module (default API.md's)")
    who = pcheck.add_mutually_exclusive_group(required=True)
    who.add_argument("--fixtures", type=Path, help="that backend's seeded users (fixtures JSON)")
    who.add_argument("--users", type=Path, metavar="FILE", help="email/password/role of its users")
    pcheck.add_argument("--insecure", action="store_true", help="do not verify the target's TLS certificate")

    worker = sub.add_parser("worker", help="a Locust worker for a `harness run --master` elsewhere")
    worker.add_argument("--master-host", required=True)
    worker.add_argument("--master-port", type=int, default=5557)
    worker.add_argument("--plan", type=Path, required=True, help="the master run's plan.json")
    worker.add_argument("--fixtures", type=Path, required=True, help="the master run's fixtures.json")

    sub.add_parser("list", help="list scenarios and suites")

    mx = sub.add_parser(
        "matrix",
        help="detection matrix: each safeguard off and each deliberate defect on, plus a clean run; "
        "exit 0 only if every one is caught and the clean run passes",
    )
    mx.add_argument("suite", nargs="?", default="release", help="the suite whose scenarios are used")
    mx.add_argument(
        "--only",
        type=_names,
        default=(),
        metavar="A,B",
        help="just these safeguards/defects; the clean run is then just their scenarios",
    )
    mx.add_argument("--speedup", type=_positive, help="passed to every run (shorter races)")
    mx.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs at a time (default 1); races judge no timing, so 2 is safe for them",
    )
    mx.add_argument("--runs-dir", type=Path, default=Path("runs"))

    rep = sub.add_parser(
        "report", help="judge a run folder: report.html, summary.json, junit.xml, summary.md"
    )
    rep.add_argument("run_dir", type=Path)
    rep.add_argument("--thresholds", type=Path)
    rep.add_argument("--fail-on-insufficient", action="store_true")

    cmp_ = sub.add_parser(
        "compare",
        help="did NEW regress against BASELINE: exit 0 no, 1 regression, 2 cannot compare, 3 inconclusive",
    )
    cmp_.add_argument("baseline", type=Path)
    cmp_.add_argument("candidate", type=Path)
    cmp_.add_argument("--tolerance", type=float, default=10.0, help="percent worse allowed (default 10)")
    cmp_.add_argument(
        "--fail-on-insufficient", action="store_true", help="a name under 20 samples makes it inconclusive"
    )

    serve = sub.add_parser("serve", help="embedded PostgreSQL + seeded reference service, until Ctrl-C")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--backend",
        choices=["embedded", "docker"],
        default="embedded",
        help="PostgreSQL kept in --data-dir (default), or a container of $DOCKER_HOST's engine",
    )
    serve.add_argument("--docker-image", metavar="IMAGE", help="with --backend docker: this image")
    serve.add_argument("--data-dir", type=Path, default=Path(".pgdata"))
    serve.add_argument("--safeguards-off", type=_safeguards, default=())
    serve.add_argument("--race-window-ms", type=_race_window, default=0.0, metavar="MS")
    serve.add_argument(
        "--toxiproxy",
        metavar="URL",
        default=os.environ.get("TOXIPROXY_URL"),
        help="put the service's database behind a proxy on this Toxiproxy server (default: $TOXIPROXY_URL)",
    )
    serve.add_argument(
        "--proxy-api-port",
        type=int,
        metavar="PORT",
        help="put it behind loadgate's own proxy, with Toxiproxy's API on 127.0.0.1:PORT (e.g. 8474)",
    )

    fx = sub.add_parser("fixtures", help="log a users file in to a target; write the fixtures file")
    fx.add_argument("--target", required=True, help="the backend's base URL")
    fx.add_argument("--users", type=Path, required=True, help="users file: JSON, TOML or CSV (docs)")
    fx.add_argument("--out", type=Path, default=Path("fixtures.json"))
    fx.add_argument("--insecure", action="store_true", help="do not verify the target's TLS certificate")

    seed = sub.add_parser("seed", help="create users, wallets and agents; write the fixtures file")
    seed.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    seed.add_argument("--out", type=Path, default=Path("fixtures.json"))
    return p


def _race_window(value: str) -> float:
    try:
        ms = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of milliseconds: {value!r}") from None
    if not 0 <= ms <= 5000:
        raise argparse.ArgumentTypeError(f"must be between 0 and 5000 ms, got {value}")
    return ms


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _service_env(args: argparse.Namespace) -> dict[str, str]:
    env = {}
    if args.race_window_ms:
        env["RACE_WINDOW_MS"] = str(args.race_window_ms)
    if args.defects:
        env["DEFECTS"] = ",".join(args.defects)
    return env


def _cmd_run(args: argparse.Namespace) -> int:
    from harness.orchestrate import run_named
    from harness.runner import RunOptions
    from harness.target import Tls, parse_target

    if args.master and args.expect_workers < 1:
        raise InvalidInput("--master needs --expect-workers N (N >= 1)")
    if args.workers < 0:
        raise InvalidInput(f"--workers must be >= 0, got {args.workers}")
    if args.service_log is not None and not args.target:
        raise InvalidInput(
            "--service-log goes with --target: the harness's own service logs to the run folder"
        )
    if args.users is not None:
        from harness.users_file import load_users

        if not args.target or args.fixtures is not None:
            raise InvalidInput("--users goes with --target, instead of --fixtures")
        load_users(args.users)  # every error in the file, before anything starts
    if args.service_log is not None and not args.service_log.is_file():
        raise InvalidInput(f"--service-log {args.service_log}: no such file")
    if (args.insecure or args.ca_bundle) and not args.target:
        raise InvalidInput(
            "--insecure/--ca-bundle go with --target (the harness's own service is plain http)"
        )
    options = RunOptions(
        speedup=args.speedup,
        workers=args.workers,
        target=parse_target(args.target) if args.target else None,
        tls=Tls(verify=not args.insecure, ca_bundle=args.ca_bundle),
        db_container=args.db_container,
        db_hooks=args.db_hooks,
        fixtures=args.fixtures,
        database_url=args.database_url or (None if args.target else os.environ.get("DATABASE_URL")),
        safeguards_off=args.safeguards_off,
        service_env=_service_env(args),
        master_bind_host=args.master_bind_host,
        master_port=args.master_port,
        expect_remote_workers=args.expect_workers if args.master else 0,
        toxiproxy_url=args.toxiproxy or (None if args.target else os.environ.get("TOXIPROXY_URL")),
        service_log=args.service_log,
        probes=args.probes,
        probes_off=args.probes_off,
        users=args.users,
        profile=args.profile,
    )
    return run_named(
        args.name,
        options,
        backend_kind="docker" if args.docker_image else args.backend,
        docker_image=args.docker_image,
        report=not args.no_report,
        thresholds=args.thresholds,
        fail_on_insufficient=args.fail_on_insufficient,
        runs_dir=args.runs_dir,
    )


def _cmd_profile_check(args: argparse.Namespace) -> int:
    import json
    import tempfile

    from harness.profiles import check_profile, load, print_check, resolve_spec
    from harness.target import parse_target

    target = parse_target(args.target)
    profile = load(resolve_spec(args.profile))
    if args.users is not None:
        from harness.fixtures_build import write_fixtures
        from harness.users_file import load_users

        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "fixtures.json"
            write_fixtures(target, load_users(args.users), out, verify=not args.insecure, profile=profile)
            fixtures = json.loads(out.read_text())
    else:
        if not args.fixtures.is_file():
            raise InvalidInput(f"--fixtures {args.fixtures}: no such file")
        fixtures = json.loads(args.fixtures.read_text())
    results = check_profile(target, profile, fixtures, verify=not args.insecure)
    return print_check(results, profile, sys.stdout)


def _cmd_fixtures(args: argparse.Namespace) -> int:
    from harness.fixtures_build import write_fixtures
    from harness.users_file import load_users

    users = load_users(args.users)
    for warning in write_fixtures(args.target, users, args.out, verify=not args.insecure):
        print(f"harness: warning: {warning}", file=sys.stderr)
    print(f"fixtures for {len(users)} users of {args.target} written to {args.out} (no tokens)")
    return 0


def _cmd_list() -> int:
    from harness.scenario import list_scenarios, list_suites

    header = ("scenario", "kind", "orders", "nominal", "speed-up", "runs")
    print("{:<22} {:<9} {:>9} {:>9} {:>9} {:>6}  description".format(*header))
    for s in list_scenarios():
        plan = _sized_plan(s)
        nominal = plan["duration_s"] * plan["speedup"]
        rates = [p["nominal_rates_per_hour"].get("orders_created", 0) for p in plan["phases"]]
        rate = f"{max(rates):.0f}/h" if any(rates) else "-"
        print(
            f"{s.name:<22} {plan['kind']:<9} {rate:>9} {nominal / 60:>8.1f}m {plan['speedup']:>8g}x "
            f"{plan['duration_s']:>6.0f}s  {_headline(s.description)}"
        )
    suites = list_suites()
    if suites:
        print(f"\n{'suite':<22} scenarios")
        for suite in suites:
            print(f"{suite.name:<22} {', '.join(m.name for m in suite.scenarios)}")
    return 0


def _sized_plan(scenario: Scenario) -> PlanDoc:
    """The plan `harness run` would run: a scenario with [sizing] as sized (harness/sizing.py)."""
    if scenario.sizing is None:
        return scenario.resolve(None).to_json()
    from harness.sizing import load_threshold_set, size

    sized, sizing = size(scenario, None, load_threshold_set(None, scenario))
    return sized.resolve(sized.speedup if sizing is not None else None).to_json()


def _headline(text: str, width: int = 70) -> str:
    """The first clause of a description, cut to `width` (the whole text is in the file)."""
    first = text.split(": ")[0].split(". ")[0].strip()
    return first if len(first) <= width else first[: width - 1].rstrip() + "…"


def _cmd_worker(args: argparse.Namespace) -> int:
    import subprocess

    from harness.locust_runner import LOCUSTFILE, locust_executable

    env = {
        **os.environ,
        "LOADGATE_PLAN": str(args.plan.resolve()),
        "LOADGATE_FIXTURES": str(args.fixtures.resolve()),
    }
    cmd = [locust_executable(), "-f", str(LOCUSTFILE), "--worker", "--master-host", args.master_host]
    return subprocess.call([*cmd, "--master-port", str(args.master_port)], env=env)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    # A process started from a background job or a CI runner inherits SIGINT ignored, and Python
    # then never raises KeyboardInterrupt: Ctrl-C (or `kill -INT`) must stop a run whatever the parent did.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "list":
            try:
                return _cmd_list()
            except BrokenPipeError:  # `harness list | head`: the reader left, which is no error
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return 0
        if args.command == "report":
            from reports import generate

            return generate(
                args.run_dir, thresholds_path=args.thresholds, fail_on_insufficient=args.fail_on_insufficient
            )
        if args.command == "compare":
            from reports import compare

            return compare(
                args.baseline,
                args.candidate,
                tolerance_pct=args.tolerance,
                fail_on_insufficient=args.fail_on_insufficient,
            )
        if args.command == "serve":
            from harness.serve import serve

            return serve(
                port=args.port,
                data_dir=args.data_dir,
                safeguards_off=args.safeguards_off,
                race_window_ms=args.race_window_ms,
                toxiproxy_url=args.toxiproxy,
                proxy_api_port=args.proxy_api_port,
                backend_kind="docker" if args.docker_image else args.backend,
                docker_image=args.docker_image,
            )
        if args.command == "seed":
            if not args.database_url:
                raise InvalidInput("seed needs --database-url or DATABASE_URL")
            from harness.stack import migrate_and_seed

            migrate_and_seed(args.database_url, args.out)
            print(f"fixtures written to {args.out}")
            return 0
        if args.command == "fixtures":
            return _cmd_fixtures(args)
        if args.command == "profile":
            return _cmd_profile_check(args)
        if args.command == "matrix":
            from harness.matrix import main_args

            return main_args(args)
        if args.command == "worker":
            return _cmd_worker(args)
    except InvalidInput as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 2
    except HarnessError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
