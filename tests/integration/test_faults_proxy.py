"""The fault proxy forwards PostgreSQL untouched, then delays, resets or blackholes it on demand."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from harness.faults import FaultContext, FaultProxy, Toxic, injector

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(pg_admin_url: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy.for_url(pg_admin_url)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def _timed_select(conn: psycopg.Connection[tuple[int]]) -> float:
    start = time.perf_counter()
    assert conn.execute("SELECT 1").fetchone() == (1,)
    return (time.perf_counter() - start) * 1000


def test_latency_toxic_delays_each_query_and_clears(proxy: FaultProxy, pg_admin_url: str) -> None:
    url = proxy.url(pg_admin_url)
    fault = injector(
        {"kind": "db_latency", "start_s": 0, "duration_s": 1, "params": {"latency_ms": 300, "jitter_ms": 20}},
        FaultContext(database_url=pg_admin_url, proxy=proxy),
    )
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        assert _timed_select(conn) < 250
        try:
            fault.apply()
            assert proxy.toxic == Toxic(latency_ms=300, jitter_ms=20)
            assert _timed_select(conn) >= 280
        finally:
            fault.revert()
        assert _timed_select(conn) < 250


def assert_resets_break_connections_until_healed(
    url: str, poison: Callable[[], object], heal: Callable[[], object]
) -> None:
    """Through `url`: `poison()` breaks the open connection and refuses a new one; `heal()` restores."""
    conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
    try:
        _timed_select(conn)
        poison()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=5).close()
    finally:
        conn.close()
        heal()
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as again:
        _timed_select(again)


def test_reset_peer_breaks_open_and_new_connections(proxy: FaultProxy, pg_admin_url: str) -> None:
    assert_resets_break_connections_until_healed(
        proxy.url(pg_admin_url), lambda: proxy.set_toxic(reset_peer=True), proxy.clear
    )


def test_timeout_toxic_blackholes_then_closes(proxy: FaultProxy, pg_admin_url: str) -> None:
    url = proxy.url(pg_admin_url)
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        proxy.set_toxic(timeout_ms=500)
        start = time.perf_counter()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
        assert time.perf_counter() - start >= 0.3  # held, not refused
    proxy.clear()
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as again:
        _timed_select(again)


def test_bandwidth_toxic_slows_a_large_result(proxy: FaultProxy, pg_admin_url: str) -> None:
    url = proxy.url(pg_admin_url)
    query = "SELECT repeat('x', 40000)"  # ~40 kB downstream
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        proxy.set_toxic(bandwidth_kbps=800)  # 100 kB/s: >= 0.3 s for 40 kB
        start = time.perf_counter()
        assert conn.execute(query).fetchone() is not None
        assert time.perf_counter() - start >= 0.3
        proxy.clear()
        start = time.perf_counter()
        conn.execute(query)
        assert time.perf_counter() - start < 0.3
