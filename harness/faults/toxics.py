"""Toxiproxy's toxics as data: parsed and checked the way Toxiproxy's API does, mapped to and from ours.

A toxic is `{"name", "type", "stream", "toxicity", "attributes"}` (Shopify/toxiproxy README,
"Toxic fields"); `stream` defaults to "downstream", `name` to `<type>_<stream>`, `toxicity` to 1.
Errors carry Toxiproxy's own messages and status codes (api.go: `ErrInvalidStream`,
`ErrInvalidToxicType`, `ErrToxicAlreadyExists`...), so a client cannot tell our API from theirs
on the subset we implement. Where loadgate's proxy cannot do what Toxiproxy would, the API says so
with a 400 instead of silently doing something else (a `toxicity` below 1, a delayed `reset_peer`).

How `db_latency`'s params become toxics (`toxics_for`), and why:
- `latency_ms` / `jitter_ms` -> `latency` on **downstream** (server -> client), Toxiproxy's default
  and what its users expect: each answer arrives late; the query itself reaches the server on time.
- `bandwidth_kbps` -> `bandwidth` on **both** streams (rate in KB/s = kbps / 8): our proxy limits
  both directions, so the same fault means the same thing on either proxy.
- `timeout_ms` -> `timeout` on **both** streams: nothing gets through either way, as with ours.
- `reset_peer` -> `reset_peer` {timeout: 0} on **upstream**: Toxiproxy resets a connection when data
  next arrives on the toxic's stream; upstream means the client's next query triggers the reset
  before reaching PostgreSQL, as with our proxy (which resets every connection at once). On
  downstream the query would run and only its answer be lost: a different fault.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from harness.faults.proxy import Toxic

STREAMS = ("upstream", "downstream")
# Each type's attributes with Toxiproxy's zero defaults (it echoes every field of the toxic's struct).
ATTRIBUTES: dict[str, dict[str, int]] = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
}


class ToxicDoc(TypedDict):
    """A toxic in Toxiproxy's API."""

    attributes: dict[str, int]
    name: str
    type: str
    stream: str
    toxicity: float


class ProxyDoc(TypedDict):
    """A proxy in Toxiproxy's API."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: list[ToxicDoc]


class ApiErrorDoc(TypedDict):
    error: str
    status: int


class ApiError(Exception):
    """An error as Toxiproxy's API returns it: `{"error": message, "status": code}`."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def to_json(self) -> ApiErrorDoc:
        return {"error": self.message, "status": self.status}


# Toxiproxy's api.go messages, verbatim.
BAD_BODY = "bad request body"
MISSING_FIELD = "missing required field"
PROXY_NOT_FOUND = "proxy not found"
PROXY_EXISTS = "proxy already exists"
INVALID_STREAM = "stream was invalid, can be either upstream or downstream"
INVALID_TYPE = "invalid toxic type"
TOXIC_EXISTS = "toxic already exists"
TOXIC_NOT_FOUND = "toxic not found"


@dataclass(frozen=True)
class ToxicSpec:
    """One named toxic on one stream of a proxy."""

    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> ToxicDoc:
        """The toxic as Toxiproxy shows it (every attribute of its type, defaults included)."""
        attributes = {**ATTRIBUTES.get(self.type, {}), **self.attributes}
        return {
            "attributes": attributes,
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }


def _int_attribute(value: Any, key: str, kind: str) -> int:
    # Toxiproxy decodes attributes into int64 fields: 1.5 or "10" is a decoding error there too.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(f"{BAD_BODY}: json: cannot unmarshal {value!r} into {kind}.{key} of type int64", 400)
    if value < 0:
        raise ApiError(f"{BAD_BODY}: {kind}.{key} must be >= 0, got {value}", 400)
    return value


def parse_toxic(body: Any, existing: Iterable[str] = ()) -> ToxicSpec:
    """A toxic from a `POST /proxies/{proxy}/toxics` body, checked in Toxiproxy's order; ApiError if bad."""
    if not isinstance(body, dict):
        raise ApiError(f"{BAD_BODY}: expected a JSON object", 400)
    stream = body.get("stream", "downstream")
    if stream == "":
        stream = "downstream"
    if stream not in STREAMS:
        raise ApiError(INVALID_STREAM, 400)
    kind = body.get("type")
    name = body.get("name") or f"{kind}_{stream}"
    if not isinstance(kind, str) or not isinstance(name, str):
        raise ApiError(f"{BAD_BODY}: name and type must be strings", 400)
    if kind not in ATTRIBUTES:
        raise ApiError(f"{INVALID_TYPE} (loadgate's proxy implements: {', '.join(ATTRIBUTES)})", 400)
    if name in set(existing):
        raise ApiError(TOXIC_EXISTS, 409)
    toxicity = body.get("toxicity", 1.0)
    if isinstance(toxicity, bool) or not isinstance(toxicity, int | float) or not math.isfinite(toxicity):
        raise ApiError(f"{BAD_BODY}: toxicity must be a number", 400)
    if toxicity != 1:
        raise ApiError(f"{BAD_BODY}: loadgate's proxy applies a toxic to every connection (toxicity 1)", 400)
    raw = body.get("attributes") or {}
    if not isinstance(raw, dict):
        raise ApiError(f"{BAD_BODY}: attributes must be a JSON object", 400)
    # Unknown attributes are ignored, as Go's JSON decoder ignores unknown fields.
    attributes = {key: _int_attribute(raw[key], key, kind) for key in ATTRIBUTES[kind] if key in raw}
    if kind == "reset_peer" and attributes.get("timeout", 0) > 0:
        raise ApiError(f"{BAD_BODY}: loadgate's proxy resets at once (reset_peer timeout 0 only)", 400)
    return ToxicSpec(name, kind, stream, 1.0, attributes)


def compose(toxics: Iterable[ToxicSpec]) -> Toxic:
    """The one Toxic our proxy applies for a proxy's toxics, chained as Toxiproxy chains them.

    Latencies on one stream add up; the lowest bandwidth wins; any timeout blackholes (closing
    after the shortest non-zero one); any reset_peer resets. Bandwidth, timeout and reset_peer
    act on both directions in our proxy whatever their stream (the module docstring says why
    that is the same fault for a database client).
    """
    latency = {"downstream": 0, "upstream": 0}
    jitter = {"downstream": 0, "upstream": 0}
    rates: list[int] = []
    timeouts: list[int] = []
    reset = False
    for toxic in toxics:
        attrs = {**ATTRIBUTES[toxic.type], **toxic.attributes}
        if toxic.type == "latency":
            latency[toxic.stream] += attrs["latency"]
            jitter[toxic.stream] += attrs["jitter"]
        elif toxic.type == "bandwidth":
            rates.append(attrs["rate"])
        elif toxic.type == "timeout":
            timeouts.append(attrs["timeout"])
        elif toxic.type == "reset_peer":
            reset = True
    closing = [t for t in timeouts if t > 0]
    return Toxic(
        latency_ms=float(latency["downstream"]),
        jitter_ms=float(jitter["downstream"]),
        upstream_latency_ms=float(latency["upstream"]),
        upstream_jitter_ms=float(jitter["upstream"]),
        # Toxiproxy's rate is KB/s (1000 bytes); ours is kbit/s. A rate of 0 means unlimited there.
        bandwidth_kbps=float(min(rates) * 8) if rates and min(rates) > 0 else 0.0,
        reset_peer=reset,
        timeout_ms=None if not timeouts else float(min(closing)) if closing else 0.0,
    )


def toxics_for(toxic: Toxic) -> list[ToxicSpec]:
    """The Toxiproxy toxics that do what `toxic` (a db_latency fault's) does in our proxy.

    Toxiproxy's attributes are whole numbers: milliseconds round to the nearest one, and a
    bandwidth to the nearest KB/s (at least 1).
    """
    specs: list[ToxicSpec] = []
    if toxic.latency_ms or toxic.jitter_ms:
        attrs = {"latency": round(toxic.latency_ms), "jitter": round(toxic.jitter_ms)}
        specs.append(ToxicSpec("latency_downstream", "latency", "downstream", 1.0, attrs))
    if toxic.upstream_latency_ms or toxic.upstream_jitter_ms:
        attrs = {"latency": round(toxic.upstream_latency_ms), "jitter": round(toxic.upstream_jitter_ms)}
        specs.append(ToxicSpec("latency_upstream", "latency", "upstream", 1.0, attrs))
    if toxic.bandwidth_kbps:
        rate = max(1, round(toxic.bandwidth_kbps / 8))
        specs += [ToxicSpec(f"bandwidth_{s}", "bandwidth", s, 1.0, {"rate": rate}) for s in STREAMS]
    if toxic.timeout_ms is not None:
        timeout = round(toxic.timeout_ms)
        specs += [ToxicSpec(f"timeout_{s}", "timeout", s, 1.0, {"timeout": timeout}) for s in STREAMS]
    if toxic.reset_peer:
        specs.append(ToxicSpec("reset_peer_upstream", "reset_peer", "upstream", 1.0, {"timeout": 0}))
    return specs
