"""`python -m tests.foreign_backend --database-url URL --port P [--bugs double_accept,overdraft]
[--dialect alt] [--log-file F] [--race-window-ms N] [--token-ttl-s N] [--statement-timeout-ms N] [--host H]`:
migrate, then serve until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from tests.foreign_backend import log as logmod
from tests.foreign_backend.app import App
from tests.foreign_backend.config import Settings, default_window_ms, parse_bugs
from tests.foreign_backend.db import migrate
from tests.foreign_backend.server import Server


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.foreign_backend", description=__doc__)
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--bugs", default=os.environ.get("FOREIGN_BUGS", ""), help="double_accept,overdraft")
    p.add_argument(
        "--dialect",
        choices=("api_md", "alt"),
        default="api_md",
        help="alt: other routes, field names, headers and error codes (dialect.py)",
    )
    p.add_argument("--log-file", type=Path, default=None, help="plain-text log (default: stderr)")
    p.add_argument("--race-window-ms", type=float, default=None, help="default 25 with a bug on, else 0")
    p.add_argument("--token-ttl-s", type=int, default=3600)
    p.add_argument("--pool-max", type=int, default=20)
    p.add_argument("--statement-timeout-ms", type=int, default=5000, help="then 503 with Retry-After")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until a signal; exit 0 on a clean stop, 2 on bad arguments."""
    args = parse_args(argv)
    if not args.database_url:
        print("--database-url (or DATABASE_URL) is required", file=sys.stderr)
        return 2
    try:
        bugs = parse_bugs(args.bugs)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    settings = Settings(
        database_url=args.database_url,
        bugs=bugs,
        race_window_ms=default_window_ms(bugs, args.race_window_ms),
        token_ttl_s=args.token_ttl_s,
        pool_max=args.pool_max,
        statement_timeout_ms=args.statement_timeout_ms,
        dialect=args.dialect,
    )
    log = logmod.setup(args.log_file)
    migrate(settings.database_url)
    app = App(settings, log)
    app.db.open()
    server = Server((args.host, args.port), app)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Installed explicitly: a parent that started us in the background may have left SIGINT ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    host, port = str(server.server_address[0]), int(server.server_address[1])
    log.info(
        "listening on http://%s:%s bugs=%s race_window_ms=%s",
        host,
        port,
        sorted(bugs),
        settings.race_window_ms,
    )
    print(f"foreign backend listening on http://{host}:{port}", flush=True)
    while not stop.wait(0.5):
        pass
    log.info("stopping")
    server.shutdown()
    server.server_close()
    app.db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
