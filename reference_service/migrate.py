"""Apply `migrations/NNNN_*.sql` in order, each once, tracked in `schema_migrations`.

`python -m reference_service.migrate [--database-url URL]` (default: DATABASE_URL). Safe to run
again and from two processes at once (an advisory lock serializes them).
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources

import psycopg

MIGRATION_LOCK = 0x10AD6A7E


def migration_files() -> list[tuple[str, str]]:
    """(name, sql) of every migration, in file-name order."""
    folder = resources.files("reference_service") / "migrations"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name, (folder / name).read_text(encoding="utf-8")) for name in names]


def migrate(database_url: str) -> list[str]:
    """Apply pending migrations; return the names applied by this call."""
    applied: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations").fetchall()}
            for name, sql in migration_files():
                if name in done:
                    continue
                with conn.transaction():
                    conn.execute(sql.encode())
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                applied.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_service.migrate")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url or DATABASE_URL is required")
    applied = migrate(args.database_url)
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or '(none pending)'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
