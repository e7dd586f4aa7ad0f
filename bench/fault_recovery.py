"""The database faults on the embedded and the Docker backend, side by side (BENCHMARKS.md).

    DOCKER_HOST=unix:///path/to/docker.sock \\
        flock /tmp/loadgate-bench.lock .venv/bin/python bench/fault_recovery.py --runs 3

Runs `chaos_db_restart`, `chaos_db_crash` and `chaos_db_pause` as written (peak mix, their own
speed-up), alternating the backends run by run so both see the same machine, and prints per
fault and backend the medians of: how long the fault really lasted (the window ends when the
server answers again, so a restart's window includes its start-up), the seconds from its end to
the first successful order, and the slowest answer a request got while it lasted. The Docker
backend needs an engine (`$DOCKER_HOST` or /var/run/docker.sock); its image build on first use is
timed apart, before the runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import load_average, machine, median  # noqa: E402

SCENARIOS = ("chaos_db_restart", "chaos_db_crash", "chaos_db_pause")
BACKENDS = ("embedded", "docker")


def image_build_s() -> float | None:
    """Seconds to build the Docker backend's image from the wheel; None when it was already there."""
    import docker.errors

    from harness.db.container import engine_client
    from harness.db.docker_image import ensure_image, image_tag

    client = engine_client()
    try:
        try:
            client.images.get(image_tag())
            return None
        except docker.errors.ImageNotFound:
            pass
        start = time.monotonic()
        ensure_image(client)
        return time.monotonic() - start
    finally:
        client.close()


def one_run(scenario: str, backend: str, runs_dir: Path) -> dict[str, Any]:
    """One `harness run`; the fault's figures from its summary.json."""
    cmd = [
        sys.executable,
        "-m",
        "harness.cli",
        "run",
        scenario,
        "--backend",
        backend,
        "--runs-dir",
        str(runs_dir),
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    summary_path = runs_dir / "latest" / "summary.json"
    if not summary_path.exists():
        raise SystemExit(
            f"{scenario} on {backend}: no summary.json (exit {done.returncode})\n{done.stdout[-3000:]}"
        )
    summary = json.loads(summary_path.read_text())
    if done.returncode != 0:  # the runs folder is temporary: keep a failing run's evidence
        kept = Path(tempfile.gettempdir()) / "lg-fault-bench-failed" / (runs_dir / "latest").resolve().name
        shutil.copytree(runs_dir / "latest", kept, dirs_exist_ok=True)
        print(f"  kept the failing run in {kept}", flush=True)
    fault = summary["chaos"]["faults"][0]
    planned = json.loads((runs_dir / "latest" / "plan.json").read_text())["faults"][0]["duration_s"]
    return {
        "exit": done.returncode,
        "planned_s": float(planned),
        "window_s": float(fault["duration_s"]),
        "first_order_s": fault["recovery"]["first_order_s"],
        "max_latency_ms": fault["requests"]["max_latency_ms"],
        "detail": fault["detail"],
        "failed": [
            c["name"] for c in summary["checks"] if c["status"] == "fail" and c["severity"] == "critical"
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="runs per scenario and backend (median)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    build = image_build_s()
    print("docker image: " + ("already built" if build is None else f"built in {build:.1f} s"))
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="lg-fault-bench-") as tmp:
        for scenario in SCENARIOS:
            for i in range(args.runs):
                order = BACKENDS if i % 2 == 0 else tuple(reversed(BACKENDS))
                for backend in order:
                    load = load_average()
                    r = one_run(scenario, backend, Path(tmp) / f"{scenario}-{backend}-{i}")
                    results.setdefault((scenario, backend), []).append(r)
                    print(
                        f"{scenario:<17} {backend:<8} exit {r['exit']}  window {r['window_s']:.2f}s "
                        f"(planned {r['planned_s']:g}s)  first order {r['first_order_s']}s  "
                        f"slowest {r['max_latency_ms']:.0f} ms  load {load}  [{r['detail']}]"
                        + (f"  FAILED {', '.join(r['failed'])}" if r["failed"] else ""),
                        flush=True,
                    )
    print("\n| fault | backend | window (planned) | to first order | slowest answer in the fault | exits |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (scenario, backend), rs in results.items():
        firsts = [r["first_order_s"] for r in rs if r["first_order_s"] is not None]
        print(
            f"| {scenario.removeprefix('chaos_')} | {backend} | {median([r['window_s'] for r in rs]):.2f} s "
            f"({rs[0]['planned_s']:g} s) | {median(firsts):.2f} s | "
            f"{median([r['max_latency_ms'] for r in rs]):.0f} ms | {','.join(str(r['exit']) for r in rs)} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
