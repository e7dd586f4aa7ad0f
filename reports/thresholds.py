"""Threshold files: parse, validate (with line numbers), merge a scenario's overrides.

Format (`reports/thresholds.toml` is the reference; every key is documented there):

    [defaults]                      # min_samples, confidence, exclude_phases
    [tags]                          # tag = [request names]: `tag = "core"` scopes to them
    [[thresholds]]
    name = "core_p95"               # unique; a scenario entry with the same name overrides fields
    metric = "http_req_duration"    # one of catalog.METRICS
    expr = "p(95) < 500"            # k6 style: AGG OP NUMBER
    severity = "critical"           # critical fails the gate, warning is reported
    seed = "000 success criteria"   # where the number comes from
    kinds = ["load"]                # scenario kinds it applies to (absent: all)
    request/requests/flow/tag       # request scope; probes = [globs] for probe metrics
    phase = "steady"                # a run phase, before/during/after_fault or fault_aftermath[:kind], or "*"
    per = "name"                    # one check per request name ("name") or per probe ("probe")
    min_samples = 20                # below it: insufficient_data
    required = true                 # no evidence at all: no_data, which blocks the gate when critical

Anything wrong (unknown key or metric, bad expression, aggregation the metric does not have) is
an `InvalidThresholds` naming the file, the line and the reason: a typo never becomes a silent pass.
Unlike k6, a threshold can be scoped to a phase; warm-up and fault windows are excluded by default
(`exclude_phases`), because seed 000's targets are stated "under expected load".
"""

from __future__ import annotations

import operator
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.catalog import AGGREGATIONS, METRICS
from reports.errors import InvalidThresholds
from reports.scope import FAULT_PHASES

DEFAULT_PATH = Path(__file__).with_name("thresholds.toml")
SEVERITIES = ("critical", "warning")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_EXPR = re.compile(
    r"^\s*(?P<agg>p\(\s*(?P<q>\d+(?:\.\d+)?)\s*\)|avg|min|max|med|count|rate|value)"
    r"\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<limit>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$"
)
_KEYS = {
    "name",
    "metric",
    "expr",
    "severity",
    "seed",
    "description",
    "kinds",
    "request",
    "requests",
    "flow",
    "tag",
    "probes",
    "phase",
    "per",
    "min_samples",
    "required",
    "enabled",
}
_PHASE_SPECIAL = re.compile(r"^(\*|((before|during|after)_fault|fault_aftermath)(:[\w.-]+)?)$")
_KINDS = {"load", "race", "capacity"}


@dataclass(frozen=True)
class Expression:
    """A parsed k6 expression: `p(95) < 500` -> agg "p", q 95, op "<", limit 500."""

    agg: str
    q: float | None
    op: str
    limit: float
    text: str

    def holds(self, value: float) -> bool:
        """Whether a measured value satisfies the expression."""
        return OPERATORS[self.op](value, self.limit)

    @property
    def label(self) -> str:
        """The aggregation as written: `p(95)`, `rate`, ..."""
        return f"p({self.q:g})" if self.agg == "p" and self.q is not None else self.agg


@dataclass(frozen=True)
class Threshold:
    """One validated threshold."""

    name: str
    metric: str
    expr: Expression
    severity: str
    seed: str
    description: str = ""
    kinds: tuple[str, ...] | None = None
    requests: tuple[str, ...] = ()
    flow: str | None = None
    tag: str | None = None
    probes: tuple[str, ...] = ()
    phase: str | None = None
    per: str | None = None
    min_samples: int = 20
    required: bool = True

    def applies_to(self, kind: str) -> bool:
        """Whether this threshold judges a run of scenario kind `kind`."""
        return self.kinds is None or kind in self.kinds


@dataclass(frozen=True)
class ThresholdSet:
    """Thresholds plus the defaults and tags they were resolved with."""

    thresholds: list[Threshold]
    tags: dict[str, tuple[str, ...]]
    exclude_phases: tuple[str, ...]
    confidence: float
    source: str
    raw: list[dict[str, Any]] = field(default_factory=list)


def parse_expression(text: str) -> Expression:
    """Parse `AGG OP NUMBER`; raise ValueError with the reason."""
    m = _EXPR.match(text)
    if not m:
        raise ValueError(f"bad expression {text!r}: expected e.g. 'p(95) < 500', 'rate < 0.01', 'count == 0'")
    agg = m["agg"]
    q = None
    if agg.startswith("p("):
        q = float(m["q"])
        if not 0 < q <= 100:
            raise ValueError(f"bad expression {text!r}: percentile must be in (0, 100]")
        agg = "p"
    return Expression(agg, q, m["op"], float(m["limit"]), text.strip())


def _entry_lines(text: str | None) -> list[tuple[int, dict[str, int]]]:
    """For each `[[thresholds]]` block of a TOML text: its header line and the line of each key."""
    if not text:
        return []
    blocks: list[tuple[int, dict[str, int]]] = []
    current: dict[str, int] | None = None
    for no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if re.match(r"^\[\[\s*thresholds\s*\]\]", stripped):
            current = {}
            blocks.append((no, current))
        elif stripped.startswith("["):
            current = None
        elif current is not None and (km := re.match(r"^([A-Za-z0-9_\"-]+)\s*=", stripped)):
            current.setdefault(km[1].strip('"'), no)
    return blocks


class _Locator:
    def __init__(self, source: str, text: str | None) -> None:
        self.source = source
        self.blocks = _entry_lines(text)

    def error(self, index: int, key: str | None, reason: str) -> InvalidThresholds:
        line = None
        if index < len(self.blocks):
            header, keys = self.blocks[index]
            line = keys.get(key, header) if key else header
        prefix = "" if line is not None else f"thresholds[{index}]: "
        return InvalidThresholds(self.source, line, prefix + reason)


def _str_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError("expected a string or a list of strings")


def _build(entry: Mapping[str, Any], tags: Mapping[str, tuple[str, ...]], min_samples: int) -> Threshold:
    """Validate one merged entry; raise (key, reason) as KeyError-free ValueError tuples."""
    for key in entry:
        if key not in _KEYS:
            raise _Bad(key, f"unknown key {key!r} (known: {', '.join(sorted(_KEYS))})")
    for key in ("name", "metric", "expr"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise _Bad(key if key in entry else None, f"missing or empty {key!r}")
    metric = METRICS.get(entry["metric"])
    if metric is None:
        raise _Bad("metric", f"unknown metric {entry['metric']!r} (known: {', '.join(sorted(METRICS))})")
    try:
        expr = parse_expression(entry["expr"])
    except ValueError as exc:
        raise _Bad("expr", str(exc)) from exc
    if expr.agg not in AGGREGATIONS[metric.type]:
        allowed = ", ".join(sorted(AGGREGATIONS[metric.type]))
        raise _Bad("expr", f"{metric.name} is a {metric.type}: {expr.label!r} does not apply (use {allowed})")
    severity = entry.get("severity", "critical")
    if severity not in SEVERITIES:
        raise _Bad("severity", f"severity must be one of {SEVERITIES}, not {severity!r}")
    for key in ("request", "requests", "flow", "tag", "probes", "per"):
        if key in entry and key not in metric.scopes:
            raise _Bad(key, f"{metric.name} cannot be scoped by {key!r}")
    try:
        kinds = _str_tuple(entry["kinds"]) if "kinds" in entry else None
        requests = _str_tuple(entry.get("requests", [])) + (
            _str_tuple(entry["request"]) if "request" in entry else ()
        )
        probes = _str_tuple(entry["probes"]) if "probes" in entry else metric.default_probes
    except ValueError as exc:
        raise _Bad(
            next(k for k in ("kinds", "requests", "request", "probes") if k in entry), str(exc)
        ) from exc
    if kinds is not None and (bad := set(kinds) - _KINDS):
        raise _Bad("kinds", f"unknown kinds {sorted(bad)} (known: {sorted(_KINDS)})")
    tag = entry.get("tag")
    if tag is not None and tag not in tags:
        raise _Bad("tag", f"unknown tag {tag!r} (define it under [tags]; known: {sorted(tags)})")
    per = entry.get("per")
    if per is not None and per not in ("name", "probe"):
        raise _Bad("per", f"per must be 'name' or 'probe', not {per!r}")
    phase = entry.get("phase")
    if phase is not None and (
        not isinstance(phase, str) or not (_PHASE_SPECIAL.match(phase) or phase.isidentifier())
    ):
        raise _Bad(
            "phase",
            f"bad phase {phase!r}: a phase name, {'/'.join(FAULT_PHASES)}[:kind] or '*'",
        )
    ms = entry.get("min_samples", min_samples)
    if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
        raise _Bad("min_samples", "min_samples must be a non-negative integer")
    required = entry.get("required", True)
    for key in ("required", "enabled"):
        if not isinstance(entry.get(key, True), bool):
            raise _Bad(key, f"{key} must be true or false")
    for key in ("seed", "description", "flow"):
        if key in entry and not isinstance(entry[key], str):
            raise _Bad(key, f"{key} must be a string")
    return Threshold(
        name=entry["name"],
        metric=metric.name,
        expr=expr,
        severity=severity,
        seed=entry.get("seed", ""),
        description=entry.get("description", ""),
        kinds=kinds,
        requests=requests,
        flow=entry.get("flow"),
        tag=tag,
        probes=probes,
        phase=phase,
        per=per,
        min_samples=ms,
        required=required,
    )


class _Bad(Exception):
    def __init__(self, key: str | None, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


def _load_toml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidThresholds(str(path), None, f"cannot read: {exc}") from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise InvalidThresholds(str(path), int(m[1]) if m else None, f"not valid TOML: {exc}") from exc


def load_thresholds(
    path: Path | None = None,
    overrides: list[dict[str, Any]] | None = None,
    override_source: str = "scenario",
) -> ThresholdSet:
    """Read a threshold file (default `reports/thresholds.toml`) and apply a scenario's `[[thresholds]]`."""
    path = path or DEFAULT_PATH
    data, text = _load_toml(path)
    source = str(path)
    unknown = set(data) - {"defaults", "tags", "thresholds"}
    if unknown:
        raise InvalidThresholds(source, _top_line(text, min(unknown)), f"unknown table {min(unknown)!r}")
    defaults = data.get("defaults", {})
    bad_defaults = set(defaults) - {"min_samples", "confidence", "exclude_phases"}
    if bad_defaults:
        key = min(bad_defaults)
        raise InvalidThresholds(source, _top_line(text, key), f"unknown key {key!r} in [defaults]")
    tags = {k: tuple(v) for k, v in data.get("tags", {}).items()}
    min_samples = int(defaults.get("min_samples", 20))
    entries = list(data.get("thresholds", []))
    built = _build_all(entries, tags, min_samples, _Locator(source, text))
    if overrides:
        override_text = _maybe_read(override_source)
        merged = _merge(entries, overrides, _Locator(override_source, override_text))
        built = _build_all(
            merged, tags, min_samples, _Locator(override_source, override_text), offset=len(entries)
        )
        entries = merged
    return ThresholdSet(
        thresholds=[t for t, e in zip(built, entries, strict=True) if e.get("enabled", True)],
        tags=tags,
        exclude_phases=tuple(defaults.get("exclude_phases", ["warmup", "during_fault", "fault_aftermath"])),
        confidence=float(defaults.get("confidence", 0.95)),
        source=source,
        raw=entries,
    )


def _top_line(text: str, key: str) -> int | None:
    for no, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"^\s*(\[)?{re.escape(key)}\b", line):
            return no
    return None


def _maybe_read(source: str) -> str | None:
    try:
        p = Path(source)
        return p.read_text() if p.is_file() else None
    except (OSError, ValueError):
        return None


def _merge(
    base: list[dict[str, Any]], overrides: list[dict[str, Any]], loc: _Locator
) -> list[dict[str, Any]]:
    merged = [dict(e) for e in base]
    index = {e.get("name"): i for i, e in enumerate(merged)}
    for i, entry in enumerate(overrides):
        if not isinstance(entry, dict):
            raise loc.error(i, None, "a threshold must be a table")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise loc.error(i, "name", "missing or empty 'name' (needed to override or add a threshold)")
        if name in index:
            merged[index[name]].update(entry)
            merged[index[name]]["_override"] = i
        else:
            index[name] = len(merged)
            merged.append({**entry, "_override": i})
    return merged


def _build_all(
    entries: list[dict[str, Any]],
    tags: Mapping[str, tuple[str, ...]],
    min_samples: int,
    loc: _Locator,
    offset: int = 0,
) -> list[Threshold]:
    out: list[Threshold] = []
    seen: set[str] = set()
    base_loc = loc if offset == 0 else None
    for i, raw in enumerate(entries):
        entry = {k: v for k, v in raw.items() if k != "_override"}
        where, idx = (loc, raw["_override"]) if "_override" in raw else (base_loc, i)
        try:
            t = _build(entry, tags, min_samples)
        except _Bad as bad:
            if where is None:  # an error in the base file surfacing during a merge
                raise InvalidThresholds(
                    loc.source, None, f"threshold {entry.get('name')!r}: {bad.reason}"
                ) from bad
            raise where.error(idx, bad.key, bad.reason) from bad
        if t.name in seen:
            raise (where or loc).error(idx, "name", f"duplicate threshold name {t.name!r}")
        seen.add(t.name)
        out.append(t)
    return out


def validate_thresholds(entries: list[dict[str, Any]], source: str) -> None:
    """Validate a scenario's `[[thresholds]]` against the default file; raise `InvalidThresholds` if wrong."""
    if not isinstance(entries, list):
        raise InvalidThresholds(source, None, "thresholds must be an array of tables")
    load_thresholds(None, entries, source)
