"""Races: every participant fires at one instant, across worker processes, and each trial's outcome
per participant lands in `races.jsonl`.

    coordinator (local runner, or the worker with index 0)
        makes the resource over HTTP, then   -> master: loadgate_race_trial {trial, resource, fire_at}
    master (or local runner)
        relays it to every worker            -> workers: loadgate_race_fire (same data)
    each worker
        fires participants i with i % worker_count == worker_index at `fire_at`: their greenlets
        are spawned on arrival of the message and all wait on one gevent Event that a timer sets
        at the wall-clock instant, so they are released in the same loop iteration; then it sends
        its samples and                     -> master: loadgate_race_result {trial, worker, participants}
    master (or local runner)
        writes one line per trial once all participants reported, or at fire_at + timeout with the
        missing ones as `status: 0, code: "NO_REPORT"`.

`fire_at` is `now + 0.4 s` at the earliest (time for the relay) and otherwise keeps the plan's
rhythm (trial k at t0 + k x interval_s). Workers on other machines need synchronised clocks (NTP);
each participant's `sent_at` is recorded so the spread of the firing can be judged.
"""

from __future__ import annotations

import gevent
from gevent.event import Event
from locust.env import Environment

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from locustfiles.common.actors import Cast
from locustfiles.common.client import make_session
from locustfiles.common.plan import Race
from locustfiles.common.profile import Profile
from locustfiles.common.race_setup import Setup, SetupFailed, fire
from locustfiles.common.race_setup_orders import contenders
from locustfiles.common.runtime import Runtime

log = logging.getLogger(__name__)

TRIAL = "loadgate_race_trial"
FIRE = "loadgate_race_fire"
RESULT = "loadgate_race_result"
FIRE_LEAD_S = 0.4
REPORT_GRACE_S = 5.0


@dataclass
class _Pending:
    data: dict[str, Any]
    participants: dict[int, dict[str, Any]] = field(default_factory=dict)
    written: bool = False


def stagger_offset_s(race: Race, trial: int, index: int) -> float:
    """When participant `index` fires after the trial's instant: 0 unless `params.stagger_ms`.

    Released together, the lighter request always lands first (a cancel before a capture that
    needs three round trips first), so the other order is never tried. Staggered, the participants
    go `stagger_ms` apart in an order that rotates each trial, so each one leads in some trial.
    """
    step_s = float(race.params.get("stagger_ms", 0.0)) / 1000.0
    return step_s * ((index + trial) % race.participants)


def winners(kind: str, participants: Sequence[Mapping[str, Any]]) -> int:
    """Successful participants; for idempotent_create, distinct orders created (replays are not wins)."""
    ok = [p for p in contenders(kind, participants) if 200 <= int(str(p.get("status") or 0)) < 300]
    if kind == "idempotent_create":
        return len({p.get("created_id") for p in ok if p.get("created_id")})
    return len(ok)


class RaceCollector:
    """On the master (or local runner): relays trials, gathers outcomes, writes races.jsonl."""

    def __init__(self, race: Race, run_dir: Path | None, timeout_s: float) -> None:
        self.race = race
        self.path = run_dir / "races.jsonl" if run_dir is not None else None
        self.timeout_s = timeout_s
        self.pending: dict[int, _Pending] = {}
        self.trials_written = 0
        self.environment: Environment | None = None

    def register(self, environment: Environment) -> None:
        self.environment = environment
        assert environment.runner is not None
        environment.runner.register_message(TRIAL, self._on_trial)
        environment.runner.register_message(RESULT, self._on_result)

    def complete(self) -> bool:
        return self.trials_written >= self.race.trials

    def _on_trial(self, environment: Environment, msg: Any, **_: Any) -> None:
        data = dict(msg.data)
        trial = int(data["trial"])
        self.pending[trial] = _Pending(data)
        if data.get("failed"):
            self._write(trial)  # setup failed: the trial is recorded, with no participants
            return
        assert environment.runner is not None
        environment.runner.send_message(FIRE, data)
        gevent.spawn_later(max(float(data["fire_at"]) - time.time(), 0) + self.timeout_s, self._write, trial)

    def _on_result(self, environment: Environment, msg: Any, **_: Any) -> None:
        pending = self.pending.get(int(msg.data["trial"]))
        if pending is None or pending.written:
            return
        for p in msg.data["participants"]:
            pending.participants[int(p["index"])] = p
        if len(pending.participants) >= self.race.participants:
            self._write(int(msg.data["trial"]))

    def _write(self, trial: int) -> None:
        pending = self.pending.get(trial)
        if pending is None or pending.written:
            return
        pending.written = True
        data = pending.data
        participants = []
        if not data.get("failed"):
            for i in range(self.race.participants):
                p = pending.participants.get(i) or {
                    "index": i,
                    "actor": f"#{i}",
                    "status": 0,
                    "code": "NO_REPORT",
                    "latency_ms": None,
                    "sent_at": None,
                    "created_id": None,
                    "worker": None,
                }
                participants.append(p)
        line = {
            "kind": self.race.kind,
            "trial": trial,
            "resource_id": data.get("resource_id"),
            "fire_at": data.get("fire_at"),
            "participants": participants,
            "winners": winners(self.race.kind, participants),
            "expected_winners": data.get("expected_winners", 1),
        }
        if data.get("failed"):
            line["error"] = data["failed"]
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")
        self.trials_written += 1
        del self.pending[trial]


class RaceParticipants:
    """On each worker (or local runner): fires this process's share of participants."""

    def __init__(
        self, runtime: Runtime, race: Race, cast: Cast, host: str, profile: Profile | None = None
    ) -> None:
        self.runtime = runtime
        self.race = race
        self.cast = cast
        self.host = host
        self.profile = profile
        self.finished: dict[int, Event] = {}
        self._session: Any = None

    def register(self, environment: Environment) -> None:
        assert environment.runner is not None
        environment.runner.register_message(FIRE, self._on_fire)

    def session(self) -> Any:
        """One session with a connection per participant, kept alive between trials."""
        if self._session is None:
            environment = self.runtime.environment
            assert environment is not None
            # A worker learns the target host from the master's spawn message, after init.
            self._session = make_session(
                environment,
                self.host or environment.host or "",
                connections=self.race.participants + 2,
                timeout_s=self.runtime.plan.request_timeout_s,
                tls_verify=self.runtime.plan.tls.verify,
                ca_bundle=self.runtime.plan.tls.ca_bundle,
            )
        return self._session

    def done_event(self, trial: int) -> Event:
        return self.finished.setdefault(trial, Event())

    def _on_fire(self, environment: Environment, msg: Any, **_: Any) -> None:
        gevent.spawn(self._fire_share, dict(msg.data))

    def _fire_share(self, data: dict[str, Any]) -> None:
        trial = int(data["trial"])
        index, count = self.runtime.worker_index, self.runtime.worker_count
        mine = [i for i in range(self.race.participants) if i % count == index]
        go = Event()
        session = self.session()
        greenlets = [gevent.spawn(self._one, session, go, data, i) for i in mine]
        self.runtime.sleep_until(float(data["fire_at"]))
        go.set()
        gevent.joinall(greenlets)
        outcomes = [g.value for g in greenlets if g.value is not None]
        self.runtime.writer.flush_to_master()
        runner = self.runtime.environment.runner if self.runtime.environment else None
        if runner is not None:
            runner.send_message(RESULT, {"trial": trial, "worker": index, "participants": outcomes})
        self.done_event(trial).set()

    def _one(self, session: Any, go: Event, data: dict[str, Any], i: int) -> dict[str, Any]:
        go.wait()
        offset_s = stagger_offset_s(self.race, int(data["trial"]), i)
        if offset_s > 0:
            self.runtime.sleep_until(float(data["fire_at"]) + offset_s)
        sent_at = time.time()
        started = time.perf_counter()
        try:
            actor, result = fire(session, self.cast, self.race.kind, data["resource"], i, self.profile)
        except Exception as e:
            log.exception("loadgate: race participant %d failed", i)
            return {
                "index": i,
                "actor": f"#{i}",
                "status": 0,
                "code": f"CLIENT_ERROR: {e}",
                "sent_at": sent_at,
            }
        return {
            "index": i,
            "actor": actor,
            "status": result.status,
            "code": result.code,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "sent_at": round(sent_at, 6),
            "created_id": result.id if result.ok else None,
            "worker": self.runtime.worker_index,
        }


def coordinate(runtime: Runtime, participants: RaceParticipants, race: Race) -> None:
    """The coordinator's loop: make each trial's resource, announce it, wait for its own share."""
    t0 = runtime.wait_started()
    environment = runtime.environment
    assert environment is not None and environment.runner is not None
    setup = Setup(participants.session(), participants.cast, race, participants.profile)
    for trial in range(race.trials):
        try:
            resource = setup.make(trial)
        except (SetupFailed, KeyError, TypeError, ValueError) as e:
            log.error("loadgate: race trial %d: %s", trial, e)
            environment.runner.send_message(TRIAL, {"trial": trial, "failed": str(e), "fire_at": None})
            continue
        fire_at = max(t0 + FIRE_LEAD_S + trial * race.interval_s, time.time() + FIRE_LEAD_S)
        environment.runner.send_message(
            TRIAL,
            {
                "trial": trial,
                "fire_at": fire_at,
                "resource_id": resource.resource_id,
                "expected_winners": resource.expected_winners,
                "resource": resource.data,
            },
        )
        # The next trial's setup must not overlap this trial's firing.
        participants.done_event(trial).wait(
            timeout=max(fire_at - time.time(), 0) + runtime.plan.request_timeout_s
        )
