"""`python -m bench NAME [ARGS]` (what `make bench ARGS="NAME ..."` runs): one bench script by name."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIBRARIES = {"common", "k6_runner", "latency_model", "loopback_server"}
SCRIPTS = sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_") and p.stem not in LIBRARIES)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in SCRIPTS:
        print('usage: python -m bench NAME [ARGS]   (make bench ARGS="NAME ...")\nbenchmarks:')
        for name in SCRIPTS:
            print(f"  {name}")
        return 2
    name = sys.argv[1]
    sys.argv = [str(HERE / f"{name}.py"), *sys.argv[2:]]
    runpy.run_path(sys.argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
