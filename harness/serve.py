"""`make serve`: embedded PostgreSQL, a freshly seeded database, the reference service on loopback.

For a human at Locust's web UI. Each start recreates the `loadgate` database so the fixtures file
always matches what is in it; the cluster itself stays in `.pgdata/` between starts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from harness.db.backends import EmbeddedBackend, fresh_database
from harness.service_process import ServiceProcess
from harness.stack import migrate_and_seed


def serve(
    *, port: int, data_dir: Path, safeguards_off: Sequence[str] = (), race_window_ms: float = 0.0
) -> int:
    """Run until Ctrl-C; return 0, or 2 if the service dies on its own."""
    data_dir.mkdir(parents=True, exist_ok=True)
    backend = EmbeddedBackend(data_dir=data_dir / "cluster")
    service: ServiceProcess | None = None
    try:
        backend.start()
        database_url = fresh_database(backend, "loadgate")
        fixtures = (data_dir / "fixtures.json").resolve()
        base_url = f"http://127.0.0.1:{port}"
        migrate_and_seed(database_url, fixtures, base_url=base_url)
        service = ServiceProcess(
            database_url,
            log_file=data_dir / "service.jsonl",
            output_file=data_dir / "service.log",
            safeguards_off=list(safeguards_off),
            port=port,
            env={"RACE_WINDOW_MS": str(race_window_ms)},
        )
        service.start()
        print(
            f"reference service: {service.base_url}\n"
            f"database:          {database_url}\n"
            f"fixtures:          {fixtures}\n"
            f"service log:       {(data_dir / 'service.jsonl').resolve()}\n"
            f"safeguards off:    {', '.join(safeguards_off) or 'none'}\n"
            f"race window:       {race_window_ms:g} ms\n\n"
            f"Locust web UI:     LOADGATE_FIXTURES={fixtures} .venv/bin/locust -f locustfiles/loadgate.py "
            f"--host {service.base_url}\n"
            "Ctrl-C stops the service and PostgreSQL.",
            flush=True,
        )
        while service.returncode is None:
            time.sleep(0.5)
        print(
            f"the service exited with code {service.returncode}; see {data_dir / 'service.log'}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("\nstopping", file=sys.stderr)
        return 0
    finally:
        if service is not None:
            service.stop()
        backend.stop()
