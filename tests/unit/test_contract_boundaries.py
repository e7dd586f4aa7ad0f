"""The parts meet only through the run folder contract (`loadgate_contract`, docs/contracts.md).

A remote Locust worker gets `locustfiles` and `loadgate_contract` only; the reports read a run
folder without the harness; the contract itself is the standard library alone. Read from the
source (every import, also those inside functions), so nothing here imports the parts.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "locustfiles": {"harness", "reports", "reference_service"},
    "reports": {"harness", "locustfiles", "reference_service"},
}


def imported_packages(package: str) -> dict[str, set[str]]:
    """Top-level package of every import in `package`'s files, by file (relative imports skipped)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tops: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                tops |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = tops
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_part_imports_no_other_part_only_the_contract(package: str) -> None:
    crossing = {
        f: sorted(tops & FORBIDDEN[package])
        for f, tops in imported_packages(package).items()
        if tops & FORBIDDEN[package]
    }
    assert crossing == {}


def test_the_contract_needs_only_the_standard_library() -> None:
    allowed = set(sys.stdlib_module_names) | {"loadgate_contract", "__future__"}
    outside = {
        f: sorted(t - allowed) for f, t in imported_packages("loadgate_contract").items() if t - allowed
    }
    assert outside == {}
