"""The probe metrics: violations the invariant probes (probes.json) counted, per metric or per probe."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loadgate_contract.records import ProbeResult
from reports.evidence import Evidence
from reports.measurement import Measure, Measurement
from reports.scope import matching_names

if TYPE_CHECKING:  # catalog (read by thresholds) imports the measures
    from reports.thresholds import Threshold, ThresholdSet

NO_PROBES = "no probes.json (give --database-url so the invariant probes can run)"


def _probe_fix(ev: Evidence, names: list[str]) -> str:
    """How to get evidence from probes that could not run (the shipped ones fit only the reference schema)."""
    assert ev.probes is not None
    them = "it" if len(names) == 1 else "them"
    off = f"switch {them} off with --probes-off {','.join(names)}"
    if ev.probes.get("shipped", True):
        return f"point --probes at probes written for your schema (docs/probes.md), or {off}"
    return f"fix {them} in {ev.probes.get('directory')} for your schema (docs/probes.md), or {off}"


def _serves(probe: ProbeResult, th: Threshold) -> bool:
    """A probe feeds a threshold when its name matches the globs or its header names the metric."""
    declared = probe.get("metrics") or []
    return bool(matching_names([str(probe.get("name"))], th.probes)) or th.metric in declared


def probe_metric(with_ledger_events: bool = False) -> Measure:
    """Violations the probes serving a threshold counted; ledger events added when asked."""

    def measure(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
        if ev.probes is None:
            return [Measurement(missing=NO_PROBES)]
        probes = [p for p in ev.probes.get("probes", []) if isinstance(p, dict) and _serves(p, th)]
        chosen = [p for p in probes if not p.get("off")]
        switched = [p for p in probes if p.get("off")]
        if not probes:
            # Blocks a critical check (exit 2): a money invariant nobody looks for must not pass.
            return [
                Measurement(
                    missing=f"no probe in {ev.probes.get('directory', 'probes.json')} named like "
                    f"{list(th.probes)} or declaring `-- metrics: {th.metric}` (name one so, see "
                    "docs/probes.md)"
                )
            ]
        off_notes = [
            Measurement(
                str(p.get("name")) if th.per == "probe" else None,
                missing=f"probe {p.get('name')} switched off by {p.get('off')}",
                optional=True,  # a recorded decision of the team, not a gap in the evidence
            )
            for p in switched
        ]
        if th.per != "probe" and not chosen:
            return off_notes[:1]
        groups = [[p] for p in chosen] if th.per == "probe" else [chosen]
        out = []
        for group in groups:
            label = str(group[0].get("name")) if th.per == "probe" else None
            errored = [str(p.get("name")) for p in group if p.get("error")]
            if errored:
                out.append(
                    Measurement(
                        label,
                        missing=f"probe {', '.join(errored)} could not run: "
                        + "; ".join(str(p.get("error")) for p in group if p.get("error"))
                        + " — "
                        + _probe_fix(ev, errored),
                    )
                )
                continue
            count = sum(int(p.get("violations") or 0) for p in group)
            examples = [{"probe": p.get("name"), **e} for p in group for e in (p.get("examples") or [])[:5]]
            detail = ", ".join(f"{p.get('name')}={p.get('violations')}" for p in group)
            if switched and th.per != "probe":
                detail += "; switched off: " + ", ".join(str(p.get("name")) for p in switched)
            out.append(
                Measurement(label, count=count, population=len(group), examples=examples[:10], detail=detail)
            )
        if with_ledger_events and ev.service is not None and th.per != "probe" and out:
            events = int((ev.service["event"] == "ledger_invariant_violated").sum())
            out[0].count += events
            out[0].detail += f"; {events} ledger_invariant_violated events"
        return out + (off_notes if th.per == "probe" else [])

    return measure
