"""A TCP fault proxy on loopback, modelled on Toxiproxy: the run's database traffic goes through it.

The proxy is started before the service (whose DATABASE_URL then points at it) and forwards
bytes untouched until a toxic is set:

- `latency_ms` / `jitter_ms`: every chunk from the server to the client is delayed by
  latency +/- jitter (Toxiproxy's default "downstream" stream), in order, without serialising
  throughput on the delay; `upstream_latency_ms` / `upstream_jitter_ms` do the same to the
  client's chunks on their way to the server (Toxiproxy's "upstream" stream);
- `bandwidth_kbps`: both directions limited to that many kilobits per second;
- `reset_peer`: every open connection is reset (TCP RST) and new ones are reset on accept;
- `timeout_ms`: data is dropped in both directions and each connection is closed after
  `timeout_ms` (0: never closed, data dropped until the toxic is cleared).

The event loop runs in its own daemon thread; `set_toxic` and `clear` are thread-safe and return
once the toxic is in force (open connections already reset, for `reset_peer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg

from harness.faults.base import FaultFailed

CHUNK = 65536
CONNECT_TIMEOUT_S = 5.0


def via(database_url: str, host: str, port: int) -> str:
    """`database_url` with its host and port replaced: the same database, through a proxy."""
    return psycopg.conninfo.make_conninfo(database_url, host=host, port=str(port))


def upstream_of(database_url: str) -> tuple[str, int]:
    """The (host, port) of the server `database_url` names."""
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    return str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432)


@dataclass(frozen=True)
class Toxic:
    """What the proxy does to traffic; the default (all zero / off) forwards untouched."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    upstream_latency_ms: float = 0.0
    upstream_jitter_ms: float = 0.0
    bandwidth_kbps: float = 0.0
    reset_peer: bool = False
    timeout_ms: float | None = None

    @property
    def active(self) -> bool:
        return self != Toxic()


@dataclass(eq=False)
class _Conn:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    timer: asyncio.TimerHandle | None = field(default=None)

    def close(self, *, reset: bool) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if reset:
            sock = self.client.get_extra_info("socket")
            # SO_LINGER with a zero timeout turns close() into a RST: what a peer reset looks like.
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.client.transport.abort()
        if self.upstream is not None:
            self.upstream.transport.abort()


class FaultProxy:
    """Forward `listen_host:port` to `upstream_host:upstream_port`, with an optional toxic."""

    def __init__(self, upstream_host: str, upstream_port: int, *, listen_host: str = "127.0.0.1") -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.listen_host = listen_host
        self.port: int | None = None
        self._toxic = Toxic()
        self._conns: set[_Conn] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_url(cls, database_url: str) -> FaultProxy:
        """A proxy in front of the server `database_url` names (host and port)."""
        return cls(*upstream_of(database_url))

    def url(self, database_url: str) -> str:
        """`database_url` rewritten to go through the proxy (call after `start()`)."""
        if self.port is None:
            raise FaultFailed("the fault proxy is not started")
        return via(database_url, self.listen_host, self.port)

    @property
    def toxic(self) -> Toxic:
        return self._toxic

    @property
    def connections(self) -> int:
        """Connections open through the proxy right now."""
        return len(self._conns)

    def start(self, port: int = 0) -> int:
        """Listen (on `port`, or any free one) and return the port."""
        if self._thread is not None:
            assert self.port is not None
            return self.port
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, self.listen_host, port, reuse_address=True)
                )
                self.port = int(self._server.sockets[0].getsockname()[1])
            except OSError as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="loadgate-fault-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure or self.port is None:
            self._thread = None
            raise FaultFailed(f"fault proxy could not listen on {self.listen_host}:{port}: {failure}")
        return self.port

    def stop(self) -> None:
        """Close the listener and every connection; join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for conn in list(self._conns):
                conn.close(reset=False)
            self._conns.clear()
            # Let each handler see its aborted sockets and end, so no task dies pending.
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=2)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

        with contextlib.suppress(RuntimeError, TimeoutError):
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        self._thread = None
        self._loop = None

    def set_toxic(self, toxic: Toxic | None = None, **fields: Any) -> None:
        """Switch a toxic on: `set_toxic(Toxic(latency_ms=200))` or `set_toxic(latency_ms=200)`."""
        new = replace(toxic or Toxic(), **fields)
        self._call(self._apply, new)

    def clear(self) -> None:
        """Back to plain forwarding (timers of a `timeout_ms` toxic cancelled)."""
        self._call(self._apply, Toxic())

    def _call(self, fn: Any, *args: Any) -> None:
        if self._loop is None:
            raise FaultFailed("the fault proxy is not started")

        async def run() -> None:
            fn(*args)

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(5)

    # Everything below runs on the proxy's event loop.

    def _apply(self, toxic: Toxic) -> None:
        self._toxic = toxic
        for conn in list(self._conns):
            if conn.timer is not None:
                conn.timer.cancel()
                conn.timer = None
            if toxic.reset_peer:
                conn.close(reset=True)
                self._conns.discard(conn)
            else:
                self._arm_timeout(conn)

    def _arm_timeout(self, conn: _Conn) -> None:
        timeout = self._toxic.timeout_ms
        if timeout and self._loop is not None:
            conn.timer = self._loop.call_later(timeout / 1000, self._expire, conn)

    def _expire(self, conn: _Conn) -> None:
        conn.close(reset=False)
        self._conns.discard(conn)

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        conn = _Conn(client_writer)
        if self._toxic.reset_peer:
            conn.close(reset=True)
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(self.upstream_host, self.upstream_port), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError):
            # The upstream refused (a stopped database): the client sees a reset, as it would directly.
            conn.close(reset=True)
            return
        conn.upstream = up_writer
        self._conns.add(conn)
        self._arm_timeout(conn)
        try:
            await asyncio.gather(
                self._pipe(client_reader, up_writer, downstream=False),
                self._pipe(up_reader, client_writer, downstream=True),
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._conns.discard(conn)
            conn.close(reset=False)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, downstream: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        # Chunks carry their due time through a queue, so a delay holds back each chunk by the
        # latency without making the reader wait: throughput is not divided by the latency.
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def send() -> None:
            while (item := await queue.get()) is not None:
                due, data = item
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send())
        try:
            while True:
                toxic = self._toxic
                limit = CHUNK
                if toxic.bandwidth_kbps:
                    limit = max(1, min(CHUNK, int(toxic.bandwidth_kbps * 125 / 10)))  # ~0.1 s of data
                data = await reader.read(limit)
                if not data:
                    break
                toxic = self._toxic
                if toxic.timeout_ms is not None:
                    continue  # blackholed
                if toxic.bandwidth_kbps:
                    await asyncio.sleep(len(data) / (toxic.bandwidth_kbps * 125))
                delay = 0.0
                latency, jitter = (
                    (toxic.latency_ms, toxic.jitter_ms)
                    if downstream
                    else (toxic.upstream_latency_ms, toxic.upstream_jitter_ms)
                )
                if latency or jitter:
                    delay = max(0.0, latency + random.uniform(-jitter, jitter)) / 1000
                queue.put_nowait((loop.time() + delay, data))
        finally:
            queue.put_nowait(None)
            with contextlib.suppress(OSError, ConnectionError):
                await sender
            # Half-close: the other side learns this direction ended, as with a direct connection.
            with contextlib.suppress(OSError, RuntimeError):
                if writer.can_write_eof():
                    writer.write_eof()
