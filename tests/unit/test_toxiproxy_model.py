"""db_latency's params as Toxiproxy toxics and back; toxic bodies checked as Toxiproxy checks them."""

from __future__ import annotations

from typing import Any

import pytest

from harness.errors import InvalidInput
from harness.faults.network import toxic_of
from harness.faults.proxy import Toxic
from harness.faults.toxics import ApiError, ToxicSpec, compose, parse_toxic, toxics_for
from harness.faults.toxiproxy import check_listen, check_url


def _shape(specs: list[ToxicSpec]) -> list[tuple[str, str, str, dict[str, int]]]:
    return [(s.name, s.type, s.stream, dict(s.attributes)) for s in specs]


def test_latency_and_jitter_become_one_downstream_latency_toxic() -> None:
    specs = toxics_for(toxic_of({"latency_ms": 200, "jitter_ms": 25.4}))
    assert _shape(specs) == [("latency_downstream", "latency", "downstream", {"latency": 200, "jitter": 25})]


def test_bandwidth_is_limited_both_ways_in_kilobytes_per_second() -> None:
    specs = toxics_for(toxic_of({"bandwidth_kbps": 800}))
    assert _shape(specs) == [
        ("bandwidth_upstream", "bandwidth", "upstream", {"rate": 100}),
        ("bandwidth_downstream", "bandwidth", "downstream", {"rate": 100}),
    ]
    # A rate below 1 KB/s is still a limit (Toxiproxy reads 0 as unlimited).
    assert toxics_for(toxic_of({"bandwidth_kbps": 2}))[0].attributes == {"rate": 1}


def test_timeout_blackholes_both_ways_and_reset_peer_acts_on_the_clients_next_bytes() -> None:
    assert _shape(toxics_for(toxic_of({"timeout_ms": 0}))) == [
        ("timeout_upstream", "timeout", "upstream", {"timeout": 0}),
        ("timeout_downstream", "timeout", "downstream", {"timeout": 0}),
    ]
    assert _shape(toxics_for(toxic_of({"reset_peer": True}))) == [
        ("reset_peer_upstream", "reset_peer", "upstream", {"timeout": 0})
    ]


@pytest.mark.parametrize(
    "toxic",
    [
        Toxic(latency_ms=300, jitter_ms=20),
        Toxic(upstream_latency_ms=50),
        Toxic(bandwidth_kbps=800),
        Toxic(timeout_ms=0),
        Toxic(timeout_ms=500),
        Toxic(reset_peer=True),
        Toxic(latency_ms=100, bandwidth_kbps=64, timeout_ms=250),
    ],
)
def test_our_proxy_applies_exactly_the_toxic_the_fault_asked_for(toxic: Toxic) -> None:
    """db_latency -> Toxiproxy toxics -> our proxy's Toxic is the identity (whole-number params)."""
    assert compose(toxics_for(toxic)) == toxic


def test_chained_toxics_compose_as_toxiproxy_chains_them() -> None:
    chain = [
        ToxicSpec("a", "latency", "downstream", 1.0, {"latency": 100, "jitter": 10}),
        ToxicSpec("b", "latency", "downstream", 1.0, {"latency": 50}),
        ToxicSpec("c", "bandwidth", "downstream", 1.0, {"rate": 100}),
        ToxicSpec("d", "bandwidth", "upstream", 1.0, {"rate": 10}),
        ToxicSpec("e", "timeout", "upstream", 1.0, {"timeout": 0}),
        ToxicSpec("f", "timeout", "downstream", 1.0, {"timeout": 700}),
    ]
    assert compose(chain) == Toxic(latency_ms=150, jitter_ms=10, bandwidth_kbps=80, timeout_ms=700)
    assert compose([ToxicSpec("z", "bandwidth", "downstream", 1.0, {"rate": 0})]) == Toxic()
    assert compose([]) == Toxic()


def test_a_toxic_body_gets_toxiproxys_defaults() -> None:
    spec = parse_toxic({"type": "latency", "attributes": {"latency": 1000}})
    assert spec.to_json() == {
        "attributes": {"latency": 1000, "jitter": 0},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
    }
    assert parse_toxic({"type": "timeout", "stream": "upstream", "name": "cut"}).name == "cut"
    # Go's decoder ignores fields a toxic does not have; so do we.
    assert parse_toxic({"type": "bandwidth", "attributes": {"rate": 5, "burst": 9}}).attributes == {"rate": 5}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"type": "latency", "stream": "sideways"},
            400,
            "stream was invalid, can be either upstream or downstream",
        ),
        ({"type": "slicer"}, 400, "invalid toxic type"),
        ({"type": "latency", "name": "taken"}, 409, "toxic already exists"),
        ({"type": "latency"}, 409, "toxic already exists"),  # its default name is taken
        ({"type": "latency", "name": "x", "attributes": {"latency": 1.5}}, 400, "bad request body"),
        ({"type": "latency", "name": "x", "attributes": {"latency": "10"}}, 400, "bad request body"),
        ({"type": "latency", "name": "x", "toxicity": 0.5}, 400, "bad request body"),
        ({"type": "reset_peer", "attributes": {"timeout": 100}}, 400, "bad request body"),
        (["not", "an", "object"], 400, "bad request body"),
    ],
)
def test_bad_toxic_bodies_get_toxiproxys_errors(body: Any, status: int, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_toxic(body, existing=["taken", "latency_downstream"])
    assert caught.value.status == status
    assert caught.value.to_json()["error"].startswith(message)
    assert caught.value.to_json()["status"] == status


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8474", "http://localhost:8474/", "http://127.0.0.2:1", "http://[::1]:8474"]
)
def test_a_loopback_toxiproxy_url_is_accepted(url: str) -> None:
    assert check_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5:8474", "http://toxiproxy:8474", "http://0.0.0.0:8474", "ftp://127.0.0.1", "8474"]
)
def test_a_toxiproxy_off_loopback_is_refused_with_the_reason(url: str) -> None:
    with pytest.raises(InvalidInput, match="--toxiproxy"):
        check_url(url)


@pytest.mark.parametrize("listen", ["0.0.0.0:0", "[::]:5432", "192.168.1.2:6000", "127.0.0.1", "localhost:x"])
def test_a_proxy_listening_off_loopback_is_refused(listen: str) -> None:
    with pytest.raises(InvalidInput, match="loopback"):
        check_listen(listen)
    assert check_listen("127.0.0.1:0") == "127.0.0.1:0"
    assert check_listen("[::1]:15432") == "[::1]:15432"
