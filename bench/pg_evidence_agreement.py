"""Do PostgreSQL's log, its sampling and the service's log agree on lock waits and slow statements?

Reproduce (about 1 minute on 2 cores):
    PYTHONPATH=$PWD python -m bench.pg_evidence_agreement                 # runs wallet_race, then compares
    PYTHONPATH=$PWD python -m bench.pg_evidence_agreement --scenario peak_200
    PYTHONPATH=$PWD python -m bench.pg_evidence_agreement runs/<folder>   # an existing run folder

All three sources come from one run folder: service.jsonl (`lock_wait`, `slow_query_detected`),
postgres.jsonl (log_lock_waits past deadlock_timeout = 10 ms, log_min_duration_statement = 100 ms)
and pg_activity.csv (sampled at 20 Hz: durations are lower bounds, short by up to one interval).
Only waits of 10 ms or more are compared (what the log can see). They do not count the same
things: the service's `lock_wait` times its wait for the payer's turn (an advisory lock) from the
client, the log every heavyweight lock wait of the database; a slow statement in the service log
includes the network and the driver.

Tolerances (stated before the run, judged after it):
- lock waits >= 50 ms, log vs service: counts within 10 % of the larger (or 3);
- lock waits, P95 of waits >= 10 ms, log vs service: within 10 % (or 5 ms);
- sampling vs log: sampling sees a wait of d ms as at least d - 50 ms, so its count over 50 ms
  must lie between the log's count over 100 ms and over 50 ms (10 % slack each way);
- slow statements > 100 ms, log vs service: within 10 % of the larger (or 3).
The first three runs were judged at 25 % (10 ms); they deviated by 4 % and 0.5 ms at most, so the
tolerance is now the tighter one above (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from reports import pg_evidence as pge
from reports.evidence import Evidence, load_evidence

Floats = npt.NDArray[np.float64]


def _pcts(values: Floats) -> str:
    if values.size == 0:
        return "n=0"
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return f"n={values.size:5d}  P50={p50:7.1f}  P95={p95:7.1f}  P99={p99:7.1f}  max={values.max():7.1f} ms"


def _close(a: float, b: float, rel: float, floor: float) -> bool:
    return abs(a - b) <= max(floor, rel * max(a, b))


def _sources(ev: Evidence) -> tuple[dict[str, Floats], dict[str, Floats]]:
    waits: dict[str, Floats] = {}
    slow: dict[str, Floats] = {}
    if ev.service is not None:
        svc = ev.service
        waits["service log"] = (
            svc.loc[svc["event"] == "lock_wait", "duration"].dropna().to_numpy(dtype=np.float64)
        )
        slow["service log"] = (
            svc.loc[svc["event"].isin(("slow_query_detected", "slow_query")), "duration"]
            .dropna()
            .to_numpy(dtype=np.float64)
        )
    if ev.pg_log is not None:
        waits["PostgreSQL log"] = pge.log_lock_waits(ev.pg_log)["duration_ms"].to_numpy(dtype=np.float64)
        slow["PostgreSQL log"] = pge.log_slow_statements(ev.pg_log)["duration_ms"].to_numpy(dtype=np.float64)
    if ev.pg_activity is not None:
        waits["sampling"] = pge.sampled_lock_waits(ev.pg_activity)["duration_ms"].to_numpy(dtype=np.float64)
        slow["sampling"] = pge.sampled_statements(ev.pg_activity)["duration_ms"].to_numpy(dtype=np.float64)
    return waits, slow


def compare(run_dir: Path) -> bool:
    """Print the figures per source and the tolerance verdicts; True when every comparison holds."""
    ev = load_evidence(run_dir)
    waits, slow = _sources(ev)
    print(f"run folder: {run_dir}")
    print("lock waits >= 10 ms per source (count over 10 ms / over 50 ms; percentiles of those >= 10 ms):")
    for name, v in waits.items():
        seen = v[v >= 10]
        print(f"  {name:15s} >10: {int((v > 10).sum()):5d}  >50: {int((v > 50).sum()):5d}  {_pcts(seen)}")
    print("slow statements per source (count over 100 ms / over 500 ms; percentiles of those > 100 ms):")
    for name, v in slow.items():
        big = v[v > 100]
        print(f"  {name:15s} >100: {big.size:5d}  >500: {int((v > 500).sum()):4d}  {_pcts(big)}")
    verdicts: list[tuple[str, bool]] = []
    svc, log, smp = waits.get("service log"), waits.get("PostgreSQL log"), waits.get("sampling")
    if svc is not None and log is not None:
        a, b = float((log > 50).sum()), float((svc > 50).sum())
        verdicts.append((f"waits > 50 ms, log {a:.0f} vs service {b:.0f} (10 % or 3)", _close(a, b, 0.10, 3)))
        ls, ss = log[log >= 10], svc[svc >= 10]
        if ls.size and ss.size:
            pa, pb = float(np.percentile(ls, 95)), float(np.percentile(ss, 95))
            verdicts.append(
                (
                    f"P95 of waits >= 10 ms, log {pa:.1f} vs service {pb:.1f} ms (10 % or 5 ms)",
                    _close(pa, pb, 0.10, 5),
                )
            )
    if smp is not None and log is not None:
        s50, l50, l100 = float((smp > 50).sum()), float((log > 50).sum()), float((log > 100).sum())
        ok = 0.9 * l100 - 1 <= s50 <= 1.1 * l50 + 1
        verdicts.append(
            (f"sampling > 50 ms {s50:.0f} within log > 100 ms {l100:.0f} .. log > 50 ms {l50:.0f}", ok)
        )
    s_svc, s_log = slow.get("service log"), slow.get("PostgreSQL log")
    if s_svc is not None and s_log is not None:
        a, b = float((s_log > 100).sum()), float((s_svc > 100).sum())
        verdicts.append((f"slow > 100 ms, log {a:.0f} vs service {b:.0f} (10 % or 3)", _close(a, b, 0.10, 3)))
    for text, ok in verdicts:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    return all(ok for _, ok in verdicts) and bool(verdicts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path, help="an existing run folder (else a new run)")
    parser.add_argument("--scenario", default="wallet_race", help="wallet_race (default) or peak_200")
    args = parser.parse_args(argv)
    run_dir = args.run_dir
    if run_dir is None:
        runs = Path(tempfile.mkdtemp(prefix="pgev-bench-"))
        cmd = [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            args.scenario,
            "--runs-dir",
            str(runs),
            "--no-report",
        ]
        subprocess.run(cmd, check=False)
        folders = sorted(p for p in runs.iterdir() if p.is_dir() and not p.is_symlink())
        if not folders:
            print("the run left no folder", file=sys.stderr)
            return 2
        run_dir = folders[-1]
    return 0 if compare(run_dir) else 1


if __name__ == "__main__":
    sys.exit(main())
