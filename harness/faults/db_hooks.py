"""`--db-hooks FILE.toml`: the user's own commands that act on a database the harness does not run.

    timeout_s = 60                                   # per command (default 60)
    stop   = "pg_ctl -D /srv/pg stop -m fast"        # db_restart: stop, then start at revert
    start  = "pg_ctl -D /srv/pg start -w -l /srv/pg/log"
    kill   = "pkill -KILL -x postgres"               # db_crash: kill, then start at revert
    pause  = "docker pause staging-db"               # db_pause: pause, then resume at revert
    resume = "docker unpause staging-db"

Each command is optional and runs with `sh -c`; which faults a file gives back follows from the
commands it has (`base.cannot_inject` with `FaultKind.hooks`). Output goes to the run folder's
`db_hooks.log`, never to a pipe (a `pg_ctl start` leaves a server holding its output open); a
command that exits non-zero or outlives `timeout_s` (its whole process group is killed) is a
fault failure, recorded in faults.jsonl. With a database URL the start and resume hooks are also
waited on until PostgreSQL answers a query again, as the harness's own restarts are.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.db.base import DatabaseError, wait_until_accepting
from harness.errors import InvalidInput
from harness.faults.base import FaultContext, FaultFailed

HOOKS = ("stop", "start", "kill", "pause", "resume")
DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DbHooks:
    """A parsed hooks file; `logging_to(path)` binds the run folder's log."""

    path: Path
    commands: Mapping[str, str]
    timeout_s: float = DEFAULT_TIMEOUT_S
    log_path: Path | None = None
    ready_url: str | None = field(default=None, compare=False)

    def logging_to(self, log_path: Path, ready_url: str | None = None) -> DbHooks:
        """The same hooks, logging to `log_path`, waiting on `ready_url` after start/resume."""
        return replace(self, log_path=log_path, ready_url=ready_url)

    def run(self, hook: str, fault: str) -> str:
        """Run one hook; FaultFailed on a non-zero exit or a timeout. Returns a detail line."""
        command = self.commands.get(hook)
        if command is None:
            raise FaultFailed(f"{fault}: {self.path} has no {hook} hook")
        log = self.log_path or Path(os.devnull)
        started = time.monotonic()
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {fault} {hook}: {command}\n")
            out.flush()
            proc = subprocess.Popen(
                ["sh", "-c", command],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
            try:
                code = proc.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                out.write(f"--- {hook}: killed after {self.timeout_s:g}s\n")
                raise FaultFailed(
                    f"{fault}: the {hook} hook did not finish within {self.timeout_s:g}s (see db_hooks.log)"
                ) from None
            out.write(f"--- {hook}: exit {code} after {time.monotonic() - started:.2f}s\n")
        if code != 0:
            raise FaultFailed(f"{fault}: the {hook} hook exited {code} (see db_hooks.log)")
        return f"{hook} hook ok ({time.monotonic() - started:.1f}s)"

    def wait_ready(self, fault: str) -> str:
        """After start/resume: wait until the database answers (when the run has its URL)."""
        if self.ready_url is None:
            return ""
        try:
            wait_until_accepting(self.ready_url, timeout_s=self.timeout_s)
        except DatabaseError as exc:
            raise FaultFailed(f"{fault}: {exc}") from exc
        return "; PostgreSQL answers"


def load_hooks(path: Path) -> DbHooks:
    """Parse and check a hooks file; InvalidInput names the file and the key."""
    try:
        doc = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise InvalidInput(f"--db-hooks {path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"--db-hooks {path}: not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - {*HOOKS, "timeout_s"})
    if unknown:
        raise InvalidInput(
            f"--db-hooks {path}: unknown key {unknown[0]!r} (known: {', '.join(HOOKS)}, timeout_s)"
        )
    commands: dict[str, str] = {}
    for hook in HOOKS:
        if hook in doc:
            value = doc[hook]
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(f"--db-hooks {path}: {hook} must be a non-empty shell command string")
            commands[hook] = value
    if not commands:
        raise InvalidInput(f"--db-hooks {path}: no hooks (give some of {', '.join(HOOKS)})")
    timeout = doc.get("timeout_s", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise InvalidInput(f"--db-hooks {path}: timeout_s must be a number > 0, got {timeout!r}")
    return DbHooks(Path(path), commands, float(timeout))


def _hooks(context: FaultContext, kind: str) -> DbHooks:
    if context.hooks is None:
        raise FaultFailed(f"{kind}: no --db-hooks in this run")
    return context.hooks


class _HookFault:
    """`apply_hook` at apply, `revert_hook` at revert (always tried, even after a failed apply)."""

    kind: str
    apply_hook: str
    revert_hook: str

    def __init__(self, params: Mapping[str, Any], context: FaultContext) -> None:
        self.hooks = _hooks(context, self.kind)

    def apply(self) -> str:
        return self.hooks.run(self.apply_hook, self.kind)

    def revert(self) -> str:
        return self.hooks.run(self.revert_hook, self.kind) + self.hooks.wait_ready(self.kind)


class HookRestart(_HookFault):
    kind, apply_hook, revert_hook = "db_restart", "stop", "start"


class HookCrash(_HookFault):
    kind, apply_hook, revert_hook = "db_crash", "kill", "start"


class HookPause(_HookFault):
    kind, apply_hook, revert_hook = "db_pause", "pause", "resume"
