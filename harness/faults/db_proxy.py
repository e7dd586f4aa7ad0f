"""The run's fault proxy in front of PostgreSQL, always driven through Toxiproxy's HTTP API.

Either a Toxiproxy server the user runs (`--toxiproxy URL`, `TOXIPROXY_URL`) or, without one,
loadgate's own implementation of the API started in-process over our FaultProxy: the same client
calls create the proxy, add and remove `db_latency`'s toxics, and delete the proxy at the end.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

from harness.faults.proxy import upstream_of, via
from harness.faults.toxics import ToxicSpec
from harness.faults.toxiproxy import ToxiproxyClient, ToxiproxyError, check_listen
from harness.faults.toxiproxy_server import ToxiproxyServer
from loadgate_contract.records import FaultProxyInfo


@dataclass
class DbProxy:
    """One proxy on a Toxiproxy API (ours or a real one), and what to stop when done."""

    client: ToxiproxyClient
    name: str
    listen: str
    upstream: str
    version: str
    own_server: ToxiproxyServer | None = None

    @property
    def kind(self) -> str:
        """`loadgate` (our API, in-process or standalone) or `toxiproxy` (another server)."""
        return "loadgate" if self.own_server or self.version.startswith("loadgate") else "toxiproxy"

    def describe(self) -> FaultProxyInfo:
        """What run.json records: which proxy, where, which version."""
        return {
            "kind": self.kind,
            "api": self.client.url,
            "version": self.version,
            "in_process": self.own_server is not None,
            "proxy": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
        }

    def label(self) -> str:
        """A short human name for faults.jsonl details."""
        where = "loadgate's proxy" if self.own_server else f"Toxiproxy {self.version} at {self.client.url}"
        return f"proxy {self.name} ({self.listen}) on {where}"

    def database_url(self, database_url: str) -> str:
        """`database_url` rewritten to go through this proxy."""
        host, _, port = self.listen.rpartition(":")
        return via(database_url, host.strip("[]"), int(port))

    def add(self, toxics: list[ToxicSpec]) -> None:
        """Add toxics, in order (a failure leaves those already added for `remove` to clear)."""
        for toxic in toxics:
            self.client.add_toxic(self.name, toxic)

    def remove(self, names: list[str]) -> list[str]:
        """Remove toxics by name; return those that were there (a 404 is not an error here)."""
        removed = []
        for name in names:
            try:
                self.client.remove_toxic(self.name, name)
                removed.append(name)
            except ToxiproxyError as exc:
                if exc.status != 404:
                    raise
        return removed

    def close(self) -> None:
        """Delete the proxy (even if the rest failed), then stop our API if we started it."""
        try:
            with contextlib.suppress(ToxiproxyError):  # already gone: nothing to delete
                self.client.delete_proxy(self.name)
        finally:
            self.client.close()
            if self.own_server is not None:
                self.own_server.stop()


def open_db_proxy(
    database_url: str, toxiproxy_url: str | None = None, *, name: str | None = None, api_port: int = 0
) -> DbProxy:
    """Create a proxy in front of `database_url`'s server, on `toxiproxy_url` or on our own API.

    Our own API listens on 127.0.0.1:`api_port` (0: any free port). The proxy listens on a free
    port of 127.0.0.1; its name defaults to `loadgate_postgres_<random>`, so runs sharing one
    Toxiproxy never collide.
    """
    host, port = upstream_of(database_url)
    upstream = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    server = None
    if toxiproxy_url is None:
        server = ToxiproxyServer(port=api_port)
        toxiproxy_url = server.start()
    client = ToxiproxyClient(toxiproxy_url)
    try:
        version = client.version()
        info = client.create_proxy(name or f"loadgate_postgres_{uuid.uuid4().hex[:8]}", upstream)
        try:
            check_listen(info.listen)
        except Exception:
            with contextlib.suppress(ToxiproxyError):
                client.delete_proxy(info.name)
            raise
    except Exception:
        client.close()
        if server is not None:
            server.stop()
        raise
    return DbProxy(client, info.name, info.listen, upstream, version, server)
