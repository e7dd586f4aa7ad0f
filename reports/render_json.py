"""summary.json: the machine-readable verdict (schema `loadgate.summary/1`)."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from loadgate_contract.files import SUMMARY_SCHEMA
from loadgate_contract.records import RunStatus
from reports.judge import Judgement

SCHEMA = SUMMARY_SCHEMA


def _clean(obj: Any) -> Any:
    """JSON has no NaN/inf: write null instead; numpy scalars become Python numbers."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item"):
        return _clean(obj.item())
    return obj


def run_document(j: Judgement, summary: dict[str, Any], thresholds_source: str) -> dict[str, Any]:
    """The summary.json object of one run."""
    doc: dict[str, Any] = _clean(
        {
            "schema": SCHEMA,
            "verdict": j.verdict,
            "exit_code": j.exit_code,
            "reasons": j.reasons,
            "incomplete": j.run.get("status") != RunStatus.COMPLETE,
            "thresholds": thresholds_source,
            "counts": dict(Counter(f"{c.severity}:{c.status}" for c in j.checks)),
            "checks": [c.as_dict() for c in j.checks],
            **summary,
            "notes": j.notes,
        }
    )
    return doc


def dumps(doc: dict[str, Any]) -> str:
    """Stable, readable JSON text."""
    return json.dumps(_clean(doc), indent=2, default=str, allow_nan=False) + "\n"
