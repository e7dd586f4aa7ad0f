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
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A maintenance URL of a real PostgreSQL for the whole session."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    pg = EmbeddedPostgres(Path(tmp_path_factory.mktemp("pg")) / "data", fsync=False)
    pg.start()
    try:
        yield pg.url
    finally:
        pg.destroy()


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
