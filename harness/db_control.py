"""A way to act on a database the harness does not run: a user's container, or their hooks file.

`--db-container NAME` attaches to a PostgreSQL container the Docker engine reaches (the Docker
backend's own code then does db_restart, db_crash and db_pause); `--db-hooks FILE` runs the
user's commands (faults/db_hooks.py). Either gives the database faults back to a `--target` run
or a run on `--database-url`. Opened once before anything starts, closed at the run's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.db.container import DockerBackend
from harness.errors import InvalidInput
from harness.faults import RunSetup
from harness.faults.db_hooks import DbHooks, load_hooks
from loadgate_contract.records import DbControlInfo


@dataclass
class DbControl:
    """The user's container (attached, never removed) or hooks; at most one of the two."""

    container: DockerBackend | None = None
    hooks: DbHooks | None = None

    def describe(self) -> DbControlInfo:
        """run.json's `db_control`."""
        if self.container is not None:
            return {"kind": "container", "container": self.container.container_id}
        assert self.hooks is not None
        return {"kind": "hooks", "file": str(self.hooks.path), "hooks": sorted(self.hooks.commands)}

    def close(self) -> None:
        """Close the engine connection (the container itself is left as it is)."""
        if self.container is not None:
            self.container.stop()


def run_setup(
    context_kind: str, db_container: str | None, db_hooks: Path | None
) -> tuple[RunSetup, DbHooks | None]:
    """The run's setup for fault validation, with the hooks file parsed (InvalidInput if bad)."""
    if db_container and db_hooks:
        raise InvalidInput("--db-container and --db-hooks: give one way to act on the database, not both")
    if (db_container or db_hooks) and context_kind not in ("target", "external"):
        raise InvalidInput(
            "--db-container/--db-hooks act on a database the harness does not run: use them with "
            "--target or --database-url (the harness's own PostgreSQL needs neither)"
        )
    hooks = load_hooks(db_hooks) if db_hooks else None
    setup = RunSetup(
        context_kind,
        db_container=db_container or None,
        db_hooks=frozenset(hooks.commands) if hooks else None,
        hooks_file=str(db_hooks or ""),
    )
    return setup, hooks


def open_db_control(setup: RunSetup, hooks: DbHooks | None, database_url: str | None) -> DbControl | None:
    """Attach to the container (it must exist and run) or take the hooks; None when neither was given."""
    if setup.db_container is not None:
        return DbControl(container=DockerBackend.attach(setup.db_container, ready_url=database_url))
    if hooks is not None:
        return DbControl(hooks=hooks)
    return None
