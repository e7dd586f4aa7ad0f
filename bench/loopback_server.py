"""A loopback HTTP/1.1 endpoint for the benchmarks of the harness itself (one process, asyncio).

    python bench/loopback_server.py --port P
        trivial: every request is answered at once with 200 and an 11-byte JSON body
    python bench/loopback_server.py --port P --median-ms 20 --sigma 0.5 --seed 1 \\
        --stall-anchor EPOCH --stall-every 10 --stall-for 1 --log server.csv
        known latency (bench/latency_model.py): a seeded lognormal service time per request, in
        the order received, paused by stalls on a fixed grid; on exit writes one CSV row per
        answered request: index (the draw's, = the order received), received, service_ms, due,
        sent (epoch s)

`GET /__stats` answers `{"requests": N, "pid": P}` at once and is not counted. Any other path and
method gets the same answer: the flows of the real locustfile parse it as an empty JSON object.
A raw `asyncio.Protocol` (no framework) so the endpoint costs as little CPU per request as
Python allows. SIGTERM or SIGINT stops it (and writes the log).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, whatever the install

from bench.latency_model import Draws, Stalls, completion

BODY = b'{"ok":true}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)


class State:
    def __init__(self, draws: Draws | None, stalls: Stalls | None) -> None:
        self.draws = draws
        self.stalls = stalls
        self.count = 0
        self.rows: list[tuple[int, float, float, float, float]] = []


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip() or 0)
    return 0


class Handler(asyncio.Protocol):
    def __init__(self, state: State) -> None:
        self.state = state
        self.buf = b""
        self.last_due = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            total = end + 4 + _content_length(head)
            if len(self.buf) < total:
                return
            self.buf = self.buf[total:]
            self._answer(head, now)

    def _answer(self, head: bytes, received: float) -> None:
        assert self.transport is not None
        parts = head.split(b" ", 2)
        if len(parts) > 1 and parts[1].startswith(b"/__stats"):
            body = json.dumps({"requests": self.state.count, "pid": os.getpid()}).encode()
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            return
        self.state.count += 1
        if self.state.draws is None:
            self.transport.write(RESPONSE)
            return
        index, service_ms = self.state.count - 1, self.state.draws.next_ms()
        # answers on one connection leave in order (a pipelining client must not overtake itself)
        due = max(completion(received, service_ms / 1000.0, self.state.stalls), self.last_due)
        self.last_due = due
        loop = asyncio.get_running_loop()
        loop.call_at(loop.time() + (due - time.time()), self._send, index, received, service_ms, due)

    def _send(self, index: int, received: float, service_ms: float, due: float) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(RESPONSE)
        self.state.rows.append((index, received, service_ms, due, time.time()))


def write_log(path: Path, rows: list[tuple[int, float, float, float, float]]) -> None:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["index", "received", "service_ms", "due", "sent"])
        out.writerows((i, f"{r:.6f}", f"{s:.4f}", f"{d:.6f}", f"{t:.6f}") for i, r, s, d, t in rows)


async def serve(args: argparse.Namespace) -> State:
    draws = Draws(args.seed, args.median_ms, args.sigma) if args.median_ms else None
    stalls = (
        Stalls(args.stall_anchor, args.stall_every, args.stall_for)
        if args.stall_for > 0 and args.stall_anchor
        else None
    )
    state = State(draws, stalls)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Handler(state), "127.0.0.1", args.port, backlog=1024)
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    print(f"loopback_server ready on 127.0.0.1:{args.port} pid {os.getpid()}", flush=True)
    async with server:
        await done.wait()
    return state


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--median-ms", type=float, default=0.0, help="0: answer at once (trivial endpoint)")
    p.add_argument("--sigma", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--stall-anchor", type=float, default=0.0, help="epoch s of the first stall")
    p.add_argument("--stall-every", type=float, default=10.0)
    p.add_argument("--stall-for", type=float, default=0.0)
    p.add_argument("--log", type=Path, default=None)
    args = p.parse_args()
    state = asyncio.run(serve(args))
    if args.log is not None:
        write_log(args.log, state.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
