"""The embedded backend is a real PostgreSQL we own: it starts, keeps data, and dies with us."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import psycopg
import pytest

from harness.db.base import DatabaseError
from harness.db.container import DockerBackend
from harness.db.embedded import EmbeddedPostgres
from harness.processes import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_data_survives_a_restart_and_a_crash(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "data", fsync=False)
    pg.start()
    try:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (v int)")
            conn.execute("INSERT INTO t VALUES (1)")
        pg.stop()
        pg.start()
        import signal

        pg.signal(signal.SIGKILL)
        assert pg.wait_exit(10) is not None
        pg.start()
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT v FROM t").fetchall() == [(1,)]
    finally:
        pg.destroy()


def test_a_second_server_on_the_same_data_is_refused(tmp_path: Path) -> None:
    first = EmbeddedPostgres(tmp_path / "data", fsync=False)
    first.start()
    try:
        with pytest.raises(DatabaseError, match="another PostgreSQL"):
            EmbeddedPostgres(tmp_path / "data", fsync=False).start()
    finally:
        first.destroy()


def test_postgres_dies_when_its_owner_is_killed(tmp_path: Path) -> None:
    """No orphan: SIGKILL the harness-like parent and its PostgreSQL goes too."""
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from harness.db.embedded import EmbeddedPostgres
        pg = EmbeddedPostgres(Path({str(tmp_path / "data")!r}), fsync=False)
        pg.start()
        print(pg.pid, flush=True)
        time.sleep(120)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        postmaster = int(parent.stdout.readline())
        assert not _gone(postmaster)
        parent.kill()
        parent.wait()
        assert wait_until(lambda: _gone(postmaster), timeout_s=15), "PostgreSQL outlived its owner"
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
        for proc in psutil.process_iter(["pid", "cmdline"]):
            if str(tmp_path) in " ".join(proc.info["cmdline"] or []):
                os.kill(proc.info["pid"], 9)


def test_docker_backend_says_clearly_when_no_engine_answers() -> None:
    backend = DockerBackend()
    try:
        backend.start()
    except DatabaseError as exc:
        assert "no Docker engine answers" in str(exc)
        assert "embedded" in str(exc)
        return
    try:  # an engine answered: then the backend must really work
        with psycopg.connect(backend.admin_url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        backend.stop()


def test_a_paused_server_freezes_open_connections_and_still_stops_cleanly(tmp_path: Path) -> None:
    """SIGSTOP reaches the backends too (they leave the postmaster's process group)."""
    import signal
    import threading

    pg = EmbeddedPostgres(tmp_path / "data", fsync=False)
    pg.start()
    conn = psycopg.connect(pg.url, autocommit=True)
    try:
        pg.signal(signal.SIGSTOP)
        answered = threading.Event()

        def query() -> None:
            # Resumed, the backend either answers or is ended by the fast shutdown: both are fine.
            with contextlib.suppress(psycopg.OperationalError):
                conn.execute("SELECT 1")
            answered.set()

        worker = threading.Thread(target=query, daemon=True)
        worker.start()
        assert not answered.wait(1.0), "an open connection's backend kept answering while paused"
        assert pg.stop() == 0, "a paused server is resumed and shuts down cleanly, not killed"
        worker.join(5)
    finally:
        conn.close()
        pg.destroy()
