"""Raw samples: one `requests.csv` row per request, from every worker, in the master's run folder.

Columns (`loadgate_contract.files.REQUEST_COLUMNS`, docs/contracts.md, in this order):
    ts              actual send, epoch s
    ts_intended     when the open model meant to send it (first request of a flow only), epoch s
    name            `METHOD /path/{template}`
    status          HTTP status, 0 when no response
    latency_ms      actual send to full response
    bytes           response body size
    error_code      the error body's `code`; `CONNECTION_ERROR` / `TIMEOUT` without a response;
                    `DROPPED` for an arrival refused by the in-flight bound; else empty
    phase           plan phase by elapsed time since the common start
    worker          worker index (0 for a local runner)
    flow            the flow (`orders_created`, `payments_captured:prereq`, `race`, ...)
    created_id      id of what a 201 created
    idempotency_key the Idempotency-Key sent, if any

Pattern of Locust's `contrib/csv_request_logger.py`: `register(environment)` attaches to
`events.request`; users never compute samples. A local runner writes rows itself. A worker
buffers rows and hands them over in `events.report_to_master` (every few seconds) and in a final
`flush_to_master()`; the master appends them on `events.worker_report` / the flush message, so
workers on other machines need no shared disk. Every batch is flushed to disk as it lands.
"""

from __future__ import annotations

import gevent
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

import csv
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from loadgate_contract.files import REQUEST_COLUMNS as COLUMNS

FLUSH_EVERY_S = 0.1  # rows reach requests.csv at most this late
REPORT_KEY = "loadgate_samples"
FLUSH_MESSAGE = "loadgate_samples"

Row = list[Any]


def classify_exception(exception: BaseException | None) -> str:
    """`TIMEOUT` or `CONNECTION_ERROR` for a request that got no response."""
    text = f"{type(exception).__name__} {exception}".lower()
    return "TIMEOUT" if "timeout" in text or "timed out" in text else "CONNECTION_ERROR"


def _status(response: Any) -> int:
    try:
        return int(response.status_code or 0)
    except (AttributeError, TypeError, ValueError):
        return 0


def _body_code(response: Any) -> str:
    try:
        body = json.loads(response.content or b"null")
    except (ValueError, TypeError, AttributeError):
        return ""
    return str(body.get("code") or "") if isinstance(body, dict) else ""


def make_row(
    *,
    name: str,
    request_type: str,
    response_time: float | None,
    response_length: int,
    response: Any,
    exception: BaseException | None,
    start_time: float | None,
    context: dict[str, Any] | None,
    phase: str,
    worker: int,
) -> Row:
    """One `requests.csv` row from Locust's request event (names that lack the method get it)."""
    ctx = context or {}
    status = _status(response) if response is not None else 0
    if "error_code" in ctx:
        code = str(ctx["error_code"] or "")
    elif status == 0 and exception is not None:
        code = classify_exception(exception)
    elif status >= 400:
        code = _body_code(response)
    else:
        code = ""
    full_name = name if name.startswith(f"{request_type} ") else f"{request_type} {name}"
    intended = ctx.get("ts_intended")
    return [
        round(start_time if start_time is not None else time.time(), 6),
        "" if intended is None else round(float(intended), 6),
        full_name,
        status,
        "" if response_time is None else round(response_time, 3),
        response_length or 0,
        code,
        phase,
        worker,
        ctx.get("flow", ""),
        ctx.get("created_id") or "",
        ctx.get("idempotency_key") or "",
    ]


class SampleWriter:
    """Collects rows on users' processes and writes them where the run folder is."""

    def __init__(self, run_dir: Path | None, phase_of: Callable[[float], str]) -> None:
        self.run_dir = run_dir
        self.phase_of = phase_of
        self.buffer: list[Row] = []
        self.rows_written = 0
        self._file: TextIO | None = None
        self._csv: Any = None
        self._environment: Environment | None = None
        self._flush_timer: gevent.Greenlet | None = None
        # Where rows land (master or local runner), a reader of every batch: the capacity watch.
        self.on_rows: Callable[[list[Row]], None] | None = None

    @property
    def path(self) -> Path | None:
        return self.run_dir / "requests.csv" if self.run_dir is not None else None

    def register(self, environment: Environment) -> None:
        """Attach to the environment's events according to the runner's role."""
        self._environment = environment
        runner = environment.runner
        if isinstance(runner, WorkerRunner):
            environment.events.request.add_listener(self._on_request)
            environment.events.report_to_master.add_listener(self._on_report_to_master)
            return
        self._open()
        environment.events.quitting.add_listener(lambda **_: self.close())
        if isinstance(runner, MasterRunner):
            environment.events.worker_report.add_listener(self._on_worker_report)
            runner.register_message(FLUSH_MESSAGE, lambda environment, msg, **_: self.write(msg.data["rows"]))
        else:
            environment.events.request.add_listener(self._on_request)

    def _worker_index(self) -> int:
        runner = self._environment.runner if self._environment else None
        return max(int(getattr(runner, "worker_index", 0)), 0)

    def _on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int,
        response: Any = None,
        context: dict[str, Any] | None = None,
        exception: BaseException | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        ts = start_time if start_time is not None else time.time()
        row = make_row(
            name=name,
            request_type=request_type,
            response_time=response_time,
            response_length=response_length,
            response=response,
            exception=exception,
            start_time=ts,
            context=context,
            phase=self.phase_of(ts),
            worker=self._worker_index(),
        )
        if isinstance(self._environment and self._environment.runner, WorkerRunner):
            self.buffer.append(row)
        else:
            self.write([row])

    def _on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        data[REPORT_KEY], self.buffer = self.buffer, []

    def _on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        rows = data.get(REPORT_KEY)
        if rows:
            self.write(rows)

    def flush_to_master(self) -> None:
        """Send what is buffered now (a worker at the end of its work; a no-op elsewhere)."""
        runner = self._environment.runner if self._environment else None
        if isinstance(runner, WorkerRunner) and self.buffer:
            rows, self.buffer = self.buffer, []
            runner.send_message(FLUSH_MESSAGE, {"rows": rows})

    def _open(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        self._file = self.path.open("a", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file)
        if fresh:
            self._csv.writerow(COLUMNS)
            self._file.flush()

    def write(self, rows: list[Row]) -> None:
        """Append a batch; it reaches the file within FLUSH_EVERY_S, so a killed run keeps what it
        measured up to that moment and `harness.progress` sees it as it lands.

        A local runner calls this once per request: flushing each row was one write(2) per request
        (bench/generator_ceiling.py's py-spy profile, BENCHMARKS.md), so flushes are coalesced by a
        timer greenlet instead.
        """
        if self._csv is None or self._file is None or not rows:
            return
        self._csv.writerows(rows)
        if self._flush_timer is None:
            self._flush_timer = gevent.spawn_later(FLUSH_EVERY_S, self._flush)
        self.rows_written += len(rows)
        if self.on_rows is not None:
            self.on_rows(rows)

    def _flush(self) -> None:
        self._flush_timer = None
        if self._file is not None and not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.kill(block=False)
            self._flush_timer = None
        if self._file is not None and not self._file.closed:
            self._file.flush()
            self._file.close()
        self._file = None
        self._csv = None


def fire_dropped(environment: Environment, name: str, context: dict[str, Any]) -> None:
    """Record an arrival refused by the in-flight bound as a sample (never a silent delay)."""
    environment.events.request.fire(
        request_type=name.split(" ", 1)[0],
        name=name,
        response_time=0.0,
        response_length=0,
        response=None,
        context={**context, "error_code": "DROPPED"},
        exception=RuntimeError("DROPPED: max_in_flight reached"),
        start_time=time.time(),
    )


__all__ = ["COLUMNS", "SampleWriter", "fire_dropped", "make_row"]
