"""Toxiproxy's HTTP API over loadgate's FaultProxy: drive the harness's proxy with any Toxiproxy client.

The subset `harness.faults.toxiproxy` uses, with Toxiproxy's JSON shapes, status codes and error
bodies (`{"error": "proxy not found", "status": 404}`): `GET /version`, `GET/POST /proxies`,
`GET/DELETE /proxies/{proxy}`, `GET/POST /proxies/{proxy}/toxics`, `GET/DELETE
/proxies/{proxy}/toxics/{toxic}`, `POST /reset`. Toxic types: latency, bandwidth, timeout,
reset_peer (`harness.faults.toxics` says how they map onto our proxy and where they differ).
Not implemented: `/populate`, updating a proxy or a toxic, `/metrics`. Listens on loopback only
and refuses a proxy that would listen elsewhere; like Toxiproxy it refuses browsers (403), so a
web page cannot reach it.

Standalone: `python -m harness.faults.toxiproxy_server [--port 8474]`, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import harness
from harness.errors import InvalidInput, RunFailed
from harness.faults.base import FaultFailed
from harness.faults.proxy import FaultProxy
from harness.faults.toxics import (
    BAD_BODY,
    MISSING_FIELD,
    PROXY_EXISTS,
    PROXY_NOT_FOUND,
    TOXIC_NOT_FOUND,
    ApiError,
    ProxyDoc,
    ToxicDoc,
    ToxicSpec,
    compose,
    parse_toxic,
)
from harness.faults.toxiproxy import check_listen

VERSION = f"loadgate-{getattr(harness, '__version__', '0.1.0')}"


@dataclass
class _Entry:
    name: str
    upstream: str
    proxy: FaultProxy
    enabled: bool
    toxics: list[ToxicSpec] = field(default_factory=list)

    @property
    def listen(self) -> str:
        return f"{self.proxy.listen_host}:{self.proxy.port}"

    def to_json(self) -> ProxyDoc:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [t.to_json() for t in self.toxics],
        }

    def apply(self) -> None:
        if self.enabled:
            self.proxy.set_toxic(compose(self.toxics))


class Registry:
    """The named proxies and their toxics; every method is thread-safe and raises ApiError."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def _get(self, name: str) -> _Entry:
        entry = self._entries.get(name)
        if entry is None:
            raise ApiError(PROXY_NOT_FOUND, 404)
        return entry

    def all(self) -> dict[str, ProxyDoc]:
        with self._lock:
            return {name: e.to_json() for name, e in self._entries.items()}

    def show(self, name: str) -> ProxyDoc:
        with self._lock:
            return self._get(name).to_json()

    def create(self, body: Any) -> ProxyDoc:
        if not isinstance(body, dict):
            raise ApiError(f"{BAD_BODY}: expected a JSON object", 400)
        name, upstream = body.get("name"), body.get("upstream")
        listen, enabled = body.get("listen") or "127.0.0.1:0", body.get("enabled", True)
        for key, value in (("name", name), ("upstream", upstream)):
            if not isinstance(value, str) or not value:
                raise ApiError(f"{MISSING_FIELD}: {key}", 400)
        assert isinstance(name, str) and isinstance(upstream, str)
        try:
            check_listen(str(listen))
        except InvalidInput as exc:
            raise ApiError(f"{BAD_BODY}: {exc}", 400) from None
        up_host, _, up_port = upstream.rpartition(":")
        if not up_host or not up_port.isdigit():
            raise ApiError(f"{BAD_BODY}: upstream must be host:port, got {upstream!r}", 400)
        host, _, port = str(listen).rpartition(":")
        with self._lock:
            if name in self._entries:
                raise ApiError(PROXY_EXISTS, 409)
            proxy = FaultProxy(up_host.strip("[]"), int(up_port), listen_host=host.strip("[]"))
            if enabled is not False:
                try:
                    proxy.start(int(port))
                except FaultFailed as exc:
                    # Toxiproxy passes the listen error on as a 500.
                    raise ApiError(str(exc), 500) from None
            entry = _Entry(name, upstream, proxy, enabled is not False)
            self._entries[name] = entry
            return entry.to_json()

    def delete(self, name: str) -> None:
        with self._lock:
            entry = self._get(name)
            del self._entries[name]
        entry.proxy.stop()

    def toxics(self, name: str) -> list[ToxicDoc]:
        with self._lock:
            return [t.to_json() for t in self._get(name).toxics]

    def toxic(self, name: str, toxic: str) -> ToxicDoc:
        with self._lock:
            for t in self._get(name).toxics:
                if t.name == toxic:
                    return t.to_json()
        raise ApiError(TOXIC_NOT_FOUND, 404)

    def add_toxic(self, name: str, body: Any) -> ToxicDoc:
        with self._lock:
            entry = self._get(name)
            spec = parse_toxic(body, (t.name for t in entry.toxics))
            entry.toxics.append(spec)
            entry.apply()
            return spec.to_json()

    def remove_toxic(self, name: str, toxic: str) -> None:
        with self._lock:
            entry = self._get(name)
            kept = [t for t in entry.toxics if t.name != toxic]
            if len(kept) == len(entry.toxics):
                raise ApiError(TOXIC_NOT_FOUND, 404)
            entry.toxics = kept
            entry.apply()

    def reset(self) -> None:
        with self._lock:
            for entry in self._entries.values():
                entry.toxics = []
                if not entry.enabled:
                    entry.proxy.start()
                    entry.enabled = True
                entry.apply()

    def stop_all(self) -> None:
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        for entry in entries:
            entry.proxy.stop()


Handler = Callable[[Request], Awaitable[Response]]


def _endpoint(call: Callable[[Request, Any], Any], status: int = 200) -> Handler:
    """An endpoint: parse the body if any, run `call` off the event loop, map ApiError to its JSON."""

    async def endpoint(request: Request) -> Response:
        if request.headers.get("user-agent", "").startswith("Mozilla/"):
            return Response("User agent not allowed\n", status_code=403, media_type="text/plain")
        body: Any = None
        raw = await request.body()
        if request.method == "POST" and raw:
            try:
                body = json.loads(raw)
            except ValueError as exc:
                return _error(ApiError(f"{BAD_BODY}: {exc}", 400))
        try:
            result = await run_in_threadpool(call, request, body)
        except ApiError as exc:
            return _error(exc)
        if status == 204:
            return Response(status_code=204)
        return JSONResponse(result, status_code=status)

    return endpoint


def _error(exc: ApiError) -> Response:
    return JSONResponse(exc.to_json(), status_code=exc.status)


def app_for(registry: Registry) -> Starlette:
    """The Starlette app serving Toxiproxy's API over `registry`."""

    def p(request: Request) -> str:
        return str(request.path_params["proxy"])

    routes = [
        Route("/version", _endpoint(lambda r, b: {"version": VERSION}), methods=["GET"]),
        Route("/reset", _endpoint(lambda r, b: registry.reset(), 204), methods=["POST"]),
        Route("/proxies", _endpoint(lambda r, b: registry.all()), methods=["GET"]),
        Route("/proxies", _endpoint(lambda r, b: registry.create(b), 201), methods=["POST"]),
        Route("/proxies/{proxy}", _endpoint(lambda r, b: registry.show(p(r))), methods=["GET"]),
        Route("/proxies/{proxy}", _endpoint(lambda r, b: registry.delete(p(r)), 204), methods=["DELETE"]),
        Route("/proxies/{proxy}/toxics", _endpoint(lambda r, b: registry.toxics(p(r))), methods=["GET"]),
        Route(
            "/proxies/{proxy}/toxics", _endpoint(lambda r, b: registry.add_toxic(p(r), b)), methods=["POST"]
        ),
        Route(
            "/proxies/{proxy}/toxics/{toxic}",
            _endpoint(lambda r, b: registry.toxic(p(r), r.path_params["toxic"])),
            methods=["GET"],
        ),
        Route(
            "/proxies/{proxy}/toxics/{toxic}",
            _endpoint(lambda r, b: registry.remove_toxic(p(r), r.path_params["toxic"]), 204),
            methods=["DELETE"],
        ),
    ]
    return Starlette(routes=routes)


class ToxiproxyServer:
    """Toxiproxy's API on `host:port` (loopback; port 0: any free one), served from a thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        check_listen(f"{host}:{port}")
        self.host, self.port = host, port
        self.registry = Registry()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> str:
        """Listen and serve; return the API's URL once it accepts requests."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise RunFailed(f"the Toxiproxy API could not listen on {self.host}:{self.port}: {exc}") from None
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            app_for(self.registry), log_level="warning", lifespan="off", loop="asyncio", access_log=False
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="loadgate-toxiproxy-api", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise RunFailed(f"the Toxiproxy API on {self.url} did not start")
            time.sleep(0.01)
        return self.url

    def stop(self) -> None:
        """Stop serving, then stop every proxy it created; join the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._server = self._thread = None
        self.registry.stop_all()

    def __enter__(self) -> ToxiproxyServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Serve the API until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8474)
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server = ToxiproxyServer(args.host, args.port)
        server.start()
    except (InvalidInput, RunFailed) as exc:
        print(f"toxiproxy_server: {exc}", flush=True)
        return 2
    print(f"Toxiproxy API (loadgate {VERSION}) on {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
