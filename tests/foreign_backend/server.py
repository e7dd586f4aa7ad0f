"""The HTTP server: stdlib ThreadingHTTPServer, HTTP/1.1 keep-alive, one log line per request."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.foreign_backend.app import App
from tests.foreign_backend.web import Request, dumps

MAX_BODY_BYTES = 1_000_000


class Handler(BaseHTTPRequestHandler):
    """Parses each request, hands it to the App, writes the JSON reply."""

    protocol_version = "HTTP/1.1"  # keep-alive: Locust reuses its connections
    # Headers and body leave in separate writes: with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms on every request).
    disable_nagle_algorithm = True
    server: Server

    def _serve(self) -> None:
        started = time.perf_counter()
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, MAX_BODY_BYTES)) if length > 0 else b""
        req = Request(self.command, url.path, dict(parse_qsl(url.query)), self.headers, raw)
        reply = self.server.app.dispatch(req)
        payload = dumps(reply.body).encode() if reply.body is not None else b""
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        ms = (time.perf_counter() - started) * 1000
        self.server.app.log.info("%s %s %d %.1fms", self.command, url.path, reply.status, ms)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        # http.server's own stderr line per request is replaced by the App's log line.
        pass


class Server(ThreadingHTTPServer):
    """A thread per connection; threads never keep the process alive on shutdown."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: App) -> None:
        super().__init__(address, Handler)
        self.app = app
