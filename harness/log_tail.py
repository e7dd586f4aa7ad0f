"""Follow a service's structured log during a `--target` run and copy it into the run folder.

With `--target` the harness starts no service, so `service.jsonl` (lock waits, slow queries) is
not written by us: `--service-log PATH` names the log the user's service writes (LogEntry JSON
lines, as seeds 000/001 define them), and this thread copies each complete line written from
the start of the run to its end, like `tail -F`: a partial last line waits for its newline, and
a file that is rotated or truncated is read again from its start.
"""

from __future__ import annotations

import threading
from pathlib import Path

from harness.errors import InvalidInput

POLL_S = 0.2


class LogTail:
    """Copy the lines appended to `source` after `start()` into `dest`, until `stop()`."""

    def __init__(self, source: Path, dest: Path, *, poll_s: float = POLL_S) -> None:
        if not source.is_file():
            raise InvalidInput(f"--service-log {source}: no such file (the target service's JSON-lines log)")
        self.source = source
        self.dest = dest
        self.poll_s = poll_s
        self.lines = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._inode = 0
        self._offset = 0
        self._partial = b""

    def start(self) -> None:
        stat = self.source.stat()
        self._inode, self._offset = stat.st_ino, stat.st_size  # what was there before the run is not ours
        self.dest.touch()
        self._thread = threading.Thread(target=self._run, name="service-log-tail", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.copy_new()
        self.copy_new()

    def copy_new(self) -> None:
        """Append the complete lines written since the last call."""
        try:
            stat = self.source.stat()
        except FileNotFoundError:
            return  # between a rotation's rename and the new file's creation
        if stat.st_ino != self._inode or stat.st_size < self._offset:
            self._inode, self._offset, self._partial = stat.st_ino, 0, b""
        if stat.st_size == self._offset:
            return
        with open(self.source, "rb") as src:
            src.seek(self._offset)
            chunk = src.read(stat.st_size - self._offset)
        self._offset += len(chunk)
        data = self._partial + chunk
        complete, _, self._partial = data.rpartition(b"\n")
        if not complete:
            self._partial = data
            return
        with open(self.dest, "ab") as out:
            out.write(complete + b"\n")
        self.lines += complete.count(b"\n") + 1

    def stop(self) -> None:
        """Copy what is left, then end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
