"""Follow a growing log during a run and copy its new lines into the run folder, like `tail -F`.

Two uses: with `--target` the harness starts no service, so `--service-log PATH` names the log the
user's service writes (LogEntry JSON lines, seeds 000/001) and it becomes `service.jsonl`; and on
a server the harness owns, PostgreSQL's own `jsonlog` becomes `postgres.jsonl`, keeping only the
lines of the run's database (`keep`). Each complete line written from the start of the run to its
end is copied: a partial last line waits for its newline, and a file that is rotated or truncated
is read again from its start. The file is read from disk (`FileSource`) or, when the server runs
where the harness cannot see its disk (a container), through SQL (`SqlFileSource`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import psycopg

from harness.errors import InvalidInput

POLL_S = 0.2


class Source(Protocol):
    """A growing file: its identity and size (None while absent), and bytes from an offset."""

    def stat(self) -> tuple[object, int] | None: ...

    def read(self, offset: int, length: int) -> bytes: ...


class FileSource:
    """A file on this machine's disk."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def stat(self) -> tuple[object, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None  # between a rotation's rename and the new file's creation
        return st.st_ino, st.st_size

    def read(self, offset: int, length: int) -> bytes:
        with open(self.path, "rb") as src:
            src.seek(offset)
            return src.read(length)


class SqlFileSource:
    """The server's current `jsonlog` file, read through SQL (superuser or pg_read_server_files)."""

    def __init__(self, admin_url: str, log_format: str = "jsonlog") -> None:
        self.admin_url = admin_url
        self.log_format = log_format
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._path: str | None = None

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.admin_url, autocommit=True, connect_timeout=3)
            self._conn.execute("SET statement_timeout = '5s'")
        return self._conn

    def stat(self) -> tuple[object, int] | None:
        try:
            conn = self._connection()
            row = conn.execute("SELECT pg_current_logfile(%s)", (self.log_format,)).fetchone()
            if row is None or row[0] is None:
                return None
            self._path = str(row[0])
            size = conn.execute("SELECT size FROM pg_stat_file(%s, true)", (self._path,)).fetchone()
        except psycopg.Error:
            self.close()  # a restarting or paused server: try again at the next poll
            return None
        if size is None or size[0] is None:
            return None
        return self._path, int(str(size[0]))

    def read(self, offset: int, length: int) -> bytes:
        row = (
            self._connection()
            .execute("SELECT pg_read_binary_file(%s, %s, %s, true)", (self._path, offset, length))
            .fetchone()
        )
        data = row[0] if row is not None else None
        return bytes(data) if isinstance(data, (bytes, bytearray, memoryview)) else b""

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class LogTail:
    """Copy the lines appended to `source` after `start()` into `dest`, until `stop()`."""

    def __init__(
        self,
        source: Path | Source,
        dest: Path,
        *,
        poll_s: float = POLL_S,
        keep: Callable[[bytes], bool] | None = None,
        name: str = "service-log-tail",
    ) -> None:
        if isinstance(source, Path):
            if not source.is_file():
                raise InvalidInput(
                    f"--service-log {source}: no such file (the target service's JSON-lines log)"
                )
            self._reader: Source = FileSource(source)
        else:
            self._reader = source
        self.source: Any = source  # a Path for --service-log (tests append to it)
        self.dest = dest
        self.poll_s = poll_s
        self.keep = keep
        self.name = name
        self.lines = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ident: object = None
        self._offset = 0
        self._partial = b""

    def start(self) -> None:
        stat = self._reader.stat()
        if stat is not None:
            self._ident, self._offset = stat  # what was there before the run is not ours
        self.dest.touch()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._copy_noting_errors()
        self._copy_noting_errors()

    def _copy_noting_errors(self) -> None:
        try:
            self.copy_new()
        except Exception as exc:  # the evidence is worth less than the run: note it, go on
            if len(self.errors) < 20:
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def copy_new(self) -> None:
        """Append the complete lines written since the last call."""
        stat = self._reader.stat()
        if stat is None:
            return
        ident, size = stat
        if ident != self._ident or size < self._offset:
            self._ident, self._offset, self._partial = ident, 0, b""
        if size == self._offset:
            return
        chunk = self._reader.read(self._offset, size - self._offset)
        self._offset += len(chunk)
        data = self._partial + chunk
        complete, _, self._partial = data.rpartition(b"\n")
        if not complete:
            self._partial = data
            return
        lines = complete.split(b"\n")
        if self.keep is not None:
            lines = [line for line in lines if self.keep(line)]
        if not lines:
            return
        with open(self.dest, "ab") as out:
            out.write(b"\n".join(lines) + b"\n")
        self.lines += len(lines)

    def stop(self) -> None:
        """Copy what is left, then end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        close = getattr(self._reader, "close", None)
        if close is not None:
            close()
