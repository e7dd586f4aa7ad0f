"""A long-lived thread that (re)starts processes on behalf of short-lived fault threads.

The harness spawns children with `PR_SET_PDEATHSIG`, and the kernel ties that "parent death" to
the *thread* that forked, not the process: a PostgreSQL or service restarted from the fault
scheduler's thread would be SIGKILLed the moment that thread ends. So every restart is handed to
this one daemon thread, started once and never stopped: it lives as long as the harness process,
which is exactly the lifetime PDEATHSIG is meant to bind children to.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
_thread: threading.Thread | None = None


def _serve() -> None:
    while True:
        fn, future = _jobs.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(fn())
        except BaseException as exc:
            future.set_exception(exc)


def keeper_thread() -> threading.Thread:
    """The keeper thread (started on first use)."""
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_serve, name="loadgate-fault-keeper", daemon=True)
            _thread.start()
        return _thread


def on_keeper(fn: Callable[[], T], timeout_s: float | None = None) -> T:
    """Run `fn` on the keeper thread and return its result (or raise its exception)."""
    if threading.current_thread() is keeper_thread():
        return fn()
    future: Future[T] = Future()
    _jobs.put((fn, future))
    return future.result(timeout=timeout_s)
