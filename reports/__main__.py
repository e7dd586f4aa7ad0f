"""Standalone CLI, so CI can judge an artifact without the harness.

python -m reports RUN_DIR [--thresholds FILE] [--fail-on-insufficient]
python -m reports compare BASELINE NEW [--tolerance PCT] [--fail-on-insufficient]
                                     # exit 0 none, 1 regression, 2 cannot compare, 3 inconclusive
python -m reports metrics            # the metric names a threshold may use
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reports import compare, generate
from reports.catalog import METRICS


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run; the return value is the process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["compare"]:
        p = argparse.ArgumentParser(prog="python -m reports compare")
        p.add_argument("baseline", type=Path)
        p.add_argument("candidate", type=Path)
        p.add_argument("--tolerance", type=float, default=10.0, help="percent (default 10)")
        p.add_argument(
            "--fail-on-insufficient", action="store_true", help="names under 20 samples: inconclusive"
        )
        a = p.parse_args(args[1:])
        return compare(
            a.baseline, a.candidate, tolerance_pct=a.tolerance, fail_on_insufficient=a.fail_on_insufficient
        )
    if args[:1] == ["metrics"]:
        for m in METRICS.values():
            print(f"{m.name:26} {m.type:8} {m.unit:6} {m.evidence:28} {m.description}")
        return 0
    p = argparse.ArgumentParser(
        prog="python -m reports", description="judge a run folder (exit 0 pass, 1 fail, 2 cannot judge)"
    )
    p.add_argument("run_dir", type=Path)
    p.add_argument("--thresholds", type=Path, default=None)
    p.add_argument("--fail-on-insufficient", action="store_true")
    a = p.parse_args(args)
    return generate(a.run_dir, thresholds_path=a.thresholds, fail_on_insufficient=a.fail_on_insufficient)


if __name__ == "__main__":
    sys.exit(main())
