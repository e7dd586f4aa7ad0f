"""Fixtures shared by every test layer: one real PostgreSQL per session, a fresh database per use.

`DATABASE_URL` points the suite at an existing server (its user needs CREATEDB); without it an
embedded PostgreSQL is started in a temporary folder and removed at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.db.base import recreate_database, with_database
from harness.db.embedded import EmbeddedPostgres
from tests.docker_engine import NoEngine, docker_engine


@pytest.fixture(scope="session")
def session_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres | None]:
    """The session's embedded PostgreSQL (None when `DATABASE_URL` names an existing server)."""
    if os.environ.get("DATABASE_URL"):
        yield None
        return
    pg = EmbeddedPostgres(Path(tmp_path_factory.mktemp("pg")) / "data", fsync=False)
    pg.start()
    try:
        yield pg
    finally:
        pg.destroy()


@pytest.fixture(scope="session")
def pg_admin_url(session_pg: EmbeddedPostgres | None) -> str:
    """A maintenance URL of a real PostgreSQL for the whole session."""
    return session_pg.url if session_pg is not None else os.environ["DATABASE_URL"]


@pytest.fixture(autouse=True)
def _session_pg_outlives_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """The test during which the session's PostgreSQL exits errors at teardown with the exit code
    and the server's last log lines, and the server is started again: one test names what happened
    instead of every later test on the worker failing with "connection refused"."""
    pg = request.getfixturevalue("session_pg") if "pg_admin_url" in request.fixturenames else None
    yield
    if pg is None or pg.pid is not None:
        return
    code, log = pg.wait_exit(0), pg.log_tail(40)
    pg.start()
    pytest.fail(f"the session's PostgreSQL exited during this test (code {code}); started again. Log:\n{log}")


@pytest.fixture
def make_database(pg_admin_url: str) -> Iterator[Callable[[], str]]:
    """Create empty databases on demand; all are dropped when the test ends."""
    created: list[str] = []

    def make() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        recreate_database(pg_admin_url, name)
        created.append(name)
        return with_database(pg_admin_url, name)

    yield make
    for name in created:
        try:
            import psycopg
            from psycopg import sql

            with psycopg.connect(pg_admin_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        except Exception:  # cleanup must not mask the test's own result
            pass


@pytest.fixture(scope="session")
def docker_host() -> Iterator[str]:
    """DOCKER_HOST of an engine that answers (the user's, or a private dockerd); skips without one."""
    try:
        with docker_engine() as host:
            yield host
    except NoEngine as exc:
        pytest.skip(str(exc))
