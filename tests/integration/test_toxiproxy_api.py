"""The Toxiproxy client against loadgate's Toxiproxy API, over real HTTP, with PostgreSQL behind the proxy.

This is the evidence that one client drives our proxy; it was not run against Shopify's binary
(none can be installed here), so compatibility with it rests on the documented API.
"""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from harness.faults import FaultContext, injector
from harness.faults.db_proxy import open_db_proxy
from harness.faults.proxy import via
from harness.faults.toxics import ToxicSpec
from harness.faults.toxiproxy import ToxiproxyClient, ToxiproxyError, ToxiproxyUnavailable, probe
from harness.faults.toxiproxy_server import VERSION, ToxiproxyServer
from tests.integration.test_faults_proxy import assert_resets_break_connections_until_healed

pytestmark = pytest.mark.integration


@pytest.fixture
def api() -> Iterator[ToxiproxyServer]:
    server = ToxiproxyServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(api: ToxiproxyServer) -> Iterator[ToxiproxyClient]:
    with ToxiproxyClient(api.url) as client:
        yield client


def _upstream(url: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    return f"{info.get('host') or '127.0.0.1'}:{info.get('port') or 5432}"


def _through(client: ToxiproxyClient, name: str, pg_admin_url: str) -> str:
    proxy = client.create_proxy(name, _upstream(pg_admin_url))
    return via(pg_admin_url, proxy.host, proxy.port)


def _median_select_ms(conn: psycopg.Connection[tuple[int]], n: int = 5) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        assert conn.execute("SELECT 1").fetchone() == (1,)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def test_a_latency_toxic_added_through_the_client_slows_each_query_until_removed(
    client: ToxiproxyClient, pg_admin_url: str
) -> None:
    url = _through(client, "pg", pg_admin_url)
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        baseline = _median_select_ms(conn)
        shown = client.add_toxic("pg", ToxicSpec("slow", "latency", "downstream", 1.0, {"latency": 150}))
        assert shown == {
            "attributes": {"latency": 150, "jitter": 0},
            "name": "slow",
            "type": "latency",
            "stream": "downstream",
            "toxicity": 1.0,
        }
        assert client.get_proxy("pg").toxics == [shown]
        poisoned = _median_select_ms(conn)
        client.remove_toxic("pg", "slow")
        restored = _median_select_ms(conn)
    # Ratios against a baseline measured here, not absolute times: 150 ms on a ~1 ms query.
    assert poisoned > 5 * max(baseline, 1.0)
    assert restored * 5 < poisoned
    assert client.toxics("pg") == []


def test_a_reset_peer_toxic_breaks_the_connection_and_removing_it_restores_service(
    client: ToxiproxyClient, pg_admin_url: str
) -> None:
    reset = ToxicSpec("reset_peer_upstream", "reset_peer", "upstream", 1.0, {"timeout": 0})
    assert_resets_break_connections_until_healed(
        _through(client, "pg", pg_admin_url),
        lambda: client.add_toxic("pg", reset),
        lambda: client.remove_toxic("pg", reset.name),
    )


def test_errors_surface_as_toxiproxy_errors_with_status_and_message(
    client: ToxiproxyClient, pg_admin_url: str
) -> None:
    _through(client, "pg", pg_admin_url)
    with pytest.raises(ToxiproxyError, match="409 proxy already exists") as dup:
        client.create_proxy("pg", _upstream(pg_admin_url))
    assert dup.value.status == 409
    with pytest.raises(ToxiproxyError, match="404 proxy not found") as missing:
        client.get_proxy("nope")
    assert missing.value.status == 404
    with pytest.raises(ToxiproxyError, match="404 proxy not found"):
        client.add_toxic("nope", ToxicSpec("t", "timeout"))
    client.add_toxic("pg", ToxicSpec("t", "timeout"))
    with pytest.raises(ToxiproxyError, match="409 toxic already exists"):
        client.add_toxic("pg", ToxicSpec("t", "latency"))
    with pytest.raises(ToxiproxyError, match="404 toxic not found"):
        client.remove_toxic("pg", "never-added")
    client.reset()
    assert client.toxics("pg") == []
    client.delete_proxy("pg")
    assert client.proxies() == {}


def test_the_wire_format_is_toxiproxys(api: ToxiproxyServer, pg_admin_url: str) -> None:
    """Status codes and bodies exactly as Toxiproxy's api.go writes them, seen with a bare HTTP client."""
    with httpx.Client(base_url=api.url) as http:
        assert http.get("/version").json() == {"version": VERSION}
        created = http.post(
            "/proxies", json={"name": "pg", "upstream": _upstream(pg_admin_url), "listen": "127.0.0.1:0"}
        )
        assert created.status_code == 201
        body = created.json()
        assert set(body) == {"name", "listen", "upstream", "enabled", "toxics"}
        assert body["enabled"] is True and body["toxics"] == [] and not body["listen"].endswith(":0")
        assert http.get("/proxies").json() == {"pg": body}
        toxic = http.post("/proxies/pg/toxics", json={"type": "latency", "attributes": {"latency": 10}})
        assert toxic.status_code == 200  # Toxiproxy answers a new toxic with 200, not 201
        assert http.get("/proxies/pg/toxics/latency_downstream").json() == toxic.json()
        assert http.delete("/proxies/pg/toxics/latency_downstream").status_code == 204
        missing = http.get("/proxies/nope")
        assert (missing.status_code, missing.json()) == (404, {"error": "proxy not found", "status": 404})
        no_name = http.post("/proxies", json={"upstream": "127.0.0.1:1"})
        assert no_name.json() == {"error": "missing required field: name", "status": 400}
        wide = http.post("/proxies", json={"name": "w", "upstream": "127.0.0.1:1", "listen": "0.0.0.0:0"})
        assert wide.status_code == 400 and "loopback" in wide.json()["error"]
        browser = http.get("/proxies", headers={"User-Agent": "Mozilla/5.0"})
        assert browser.status_code == 403
        assert http.post("/reset").status_code == 204
        assert http.delete("/proxies/pg").status_code == 204


def test_db_latency_goes_through_the_api_and_leaves_nothing_behind(pg_admin_url: str) -> None:
    """The run's path: a DbProxy on a Toxiproxy API (a standalone one of ours), the fault, the cleanup."""
    with ToxiproxyServer() as api, ToxiproxyClient(api.url) as watcher:
        db_proxy = open_db_proxy(pg_admin_url, api.url)
        try:
            assert db_proxy.describe()["version"] == VERSION
            assert db_proxy.describe()["in_process"] is False
            fault = injector(
                {
                    "kind": "db_latency",
                    "start_s": 0,
                    "duration_s": 1,
                    "params": {"latency_ms": 100, "bandwidth_kbps": 800},
                },
                FaultContext(database_url=pg_admin_url, db_proxy=db_proxy),
            )
            with psycopg.connect(
                db_proxy.database_url(pg_admin_url), autocommit=True, connect_timeout=5
            ) as conn:
                baseline = _median_select_ms(conn, 3)
                detail = fault.apply()
                try:
                    assert api.url in detail and "latency_downstream" in detail
                    names = {t["name"] for t in watcher.toxics(db_proxy.name)}
                    assert names == {"latency_downstream", "bandwidth_upstream", "bandwidth_downstream"}
                    assert _median_select_ms(conn, 3) > 5 * max(baseline, 1.0)
                finally:
                    fault.revert()
                assert watcher.toxics(db_proxy.name) == []
        finally:
            db_proxy.close()
        assert watcher.proxies() == {}, "the harness deletes the proxy it created"


def test_a_toxiproxy_that_does_not_answer_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: nothing answers
        with pytest.raises(
            ToxiproxyUnavailable,
            match=f"no Toxiproxy answers there.*127.0.0.1:{port}|127.0.0.1:{port}.*no Toxiproxy answers",
        ):
            probe(f"http://127.0.0.1:{port}")
