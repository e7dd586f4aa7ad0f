"""FaultScheduler: apply each fault at t0 + start_s, revert it duration_s later, log faults.jsonl.

One thread walks a timeline of apply/revert actions in time order, so overlapping faults (a
lock held during a latency toxic) work; an action that takes long (a restart) delays the ones
after it rather than running beside it. A failed apply is reverted at once (revert is always
called, as in Chaos Toolkit), and every fault gets exactly one faults.jsonl line when it ends.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.faults.base import FaultContext, Injector, params_of
from harness.faults.registry import injector
from loadgate_contract.records import FaultOutcome, FaultRecord

JOIN_TIMEOUT_S = 120.0


@dataclass
class _Fault:
    index: int
    spec: Mapping[str, Any]
    injector: Injector | None = None
    started: float | None = None
    detail: list[str] = field(default_factory=list)
    failed: bool = False
    done: bool = False


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


class FaultScheduler:
    """Inject `faults` (validated plan items) against `context`, timed from epoch second `t0`."""

    def __init__(
        self, faults: Sequence[Mapping[str, Any]], context: FaultContext, faults_path: Path, t0: float
    ) -> None:
        self.context = context
        self.faults_path = Path(faults_path)
        self.t0 = t0
        self.errors: list[str] = []
        self._faults = [_Fault(i, spec) for i, spec in enumerate(faults)]
        self._active: list[_Fault] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the scheduler thread (returns at once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="loadgate-faults", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = JOIN_TIMEOUT_S) -> None:
        """Revert every active fault, record the never-started ones, and join the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                self._error(f"fault scheduler still busy {timeout_s:g}s after stop")
        else:
            self._finish()

    def active(self) -> list[str]:
        """Kinds of the faults in force right now (for the progress line)."""
        with self._lock:
            return [f.spec["kind"] for f in self._active]

    def _error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)

    def _timeline(self) -> list[tuple[float, int, _Fault]]:
        # (due, 0 = revert before 1 = apply at the same instant, fault), sorted.
        actions = []
        for f in self._faults:
            start = self.t0 + float(f.spec["start_s"])
            actions.append((start, 1, f))
            actions.append((start + float(f.spec["duration_s"]), 0, f))
        return sorted(actions, key=lambda a: (a[0], a[1], a[2].index))

    def _run(self) -> None:
        try:
            for due, is_apply, fault in self._timeline():
                if self._stop.wait(max(0.0, due - time.time())):
                    break
                if is_apply:
                    self._apply(fault)
                elif fault.injector is not None and not fault.done:
                    self._revert(fault)
        except Exception as exc:
            self._error(f"fault scheduler: {_describe(exc)}")
        finally:
            self._finish()

    def _finish(self) -> None:
        with self._lock:
            active = list(reversed(self._active))
        for fault in active:
            self._revert(fault)
        for fault in self._faults:
            if not fault.done:
                fault.failed = True
                fault.detail.append("not applied: the run stopped before its start")
                fault.started = fault.started or time.time()
                fault.done = True
                self._write(fault)

    def _apply(self, fault: _Fault) -> None:
        kind = fault.spec["kind"]
        fault.started = time.time()
        try:
            fault.injector = injector(fault.spec, self.context)
            fault.detail.append(fault.injector.apply())
        except Exception as exc:
            fault.failed = True
            fault.detail.append(f"apply failed: {_describe(exc)}")
            self._error(f"faults[{fault.index}] {kind}: apply failed: {_describe(exc)}")
            if fault.injector is not None:
                self._revert(fault)  # always revert, even a half-applied fault
            else:
                fault.done = True
                self._write(fault)
            return
        with self._lock:
            self._active.append(fault)

    def _revert(self, fault: _Fault) -> None:
        if fault.done:
            return
        kind = fault.spec["kind"]
        try:
            assert fault.injector is not None
            fault.detail.append(fault.injector.revert())
        except Exception as exc:
            fault.failed = True
            fault.detail.append(f"revert failed: {_describe(exc)}")
            self._error(f"faults[{fault.index}] {kind}: revert failed: {_describe(exc)}")
        finally:
            fault.done = True
            with self._lock:
                if fault in self._active:
                    self._active.remove(fault)
            self._write(fault)

    def _write(self, fault: _Fault) -> None:
        line: FaultRecord = {
            "kind": fault.spec["kind"],
            "target": fault.spec.get("target"),
            "start": fault.started,
            "end": time.time(),
            "params": dict(params_of(fault.spec)),
            "outcome": FaultOutcome.FAILED if fault.failed else FaultOutcome.APPLIED,
            "detail": "; ".join(fault.detail),
        }
        try:
            self.faults_path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, open(self.faults_path, "a", encoding="utf-8") as out:
                out.write(json.dumps(line, default=str) + "\n")
                out.flush()
        except OSError as exc:
            self._error(f"could not write {self.faults_path}: {_describe(exc)}")
