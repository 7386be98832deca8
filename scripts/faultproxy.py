"""A small asyncio TCP proxy that injects network faults, for benchmarks and chaos tests (stdlib only).

``tc netem`` and Toxiproxy are not available on our machines, so this stands between a client and a server
and switches, at runtime, between:

- ``normal()``: forward everything at once (also clears latency and bandwidth);
- ``latency(s)``: every chunk is delivered ``s`` seconds after it was read, in each direction (a slow link,
  not a slow server: chunks in flight overlap, so throughput is not capped);
- ``bandwidth(bytes_per_s)``: pace each direction of each connection;
- ``blackhole()``: keep accepting but deliver nothing, holding the data as a partitioned network would
  (``normal()`` delivers what was held, as TCP retransmission would);
- ``reset()``: RST every open connection (SO_LINGER 0) and every new one, until ``normal()``.

A userspace proxy's blackhole does NOT trip the kernel's ``tcp_user_timeout`` or keepalive: the client's
kernel gets its ACKs from the proxy. Only a client-side deadline sees it (see DESIGN.md).

Use it from async code (``await proxy.start()``), from sync code (``handle = FaultProxy(...).run_in_thread()``),
or as a process::

    python scripts/faultproxy.py --target 127.0.0.1:5432 --listen 6543 --latency 0.002
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import struct
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

CHUNK = 64 * 1024
_EOF = b""


class FaultProxy:
    def __init__(self, listen_port: int, target_host: str, target_port: int, *,
                 listen_host: str = "127.0.0.1") -> None:
        self.listen_host, self.listen_port = listen_host, listen_port
        self.target_host, self.target_port = target_host, target_port
        self.delay = 0.0
        self.bytes_per_s: float | None = None
        self.resetting = False
        self.connections_accepted = 0
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def port(self) -> int:
        """The port actually listened on (``listen_port=0`` picks a free one)."""
        if self._server is None:
            raise RuntimeError("FaultProxy is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, self.listen_host, self.listen_port)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        handlers = list(self._handlers)
        for handler in handlers:
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def normal(self) -> None:
        self.delay, self.bytes_per_s, self.resetting = 0.0, None, False
        self._flowing.set()

    def latency(self, seconds_each_way: float) -> None:
        self.delay = seconds_each_way
        self._flowing.set()

    def bandwidth(self, bytes_per_s: float | None) -> None:
        self.bytes_per_s = bytes_per_s

    def blackhole(self) -> None:
        self._flowing.clear()

    def reset(self) -> None:
        self.resetting = True
        for link in list(self._links):
            link.close(rst=True)

    def run_in_thread(self) -> ThreadedFaultProxy:
        """Start in a background thread with its own event loop; for tests written in sync code."""
        return ThreadedFaultProxy(self)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections_accepted += 1
        handler = asyncio.current_task()
        assert handler is not None  # noqa: S101  (start_server runs each callback in its own task)
        self._handlers.add(handler)
        try:
            await self._proxy(client_reader, client_writer)
        except asyncio.CancelledError:
            # Only stop() cancels a handler. Ending quietly matters: on Python 3.11 the streams callback calls
            # task.exception() on a cancelled task and logs the CancelledError it raises as an error.
            pass
        finally:
            self._handlers.discard(handler)
            _abort(client_writer, rst=False)

    async def _proxy(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self.resetting:
            _abort(client_writer, rst=True)
            return
        try:
            await self._flowing.wait()  # a blackhole swallows new connections too
            upstream_reader, upstream_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            _abort(client_writer, rst=True)  # the target is down: refuse as it would
            return
        link = _Link(self, client_writer, upstream_writer)
        self._links.add(link)
        try:
            await link.run(client_reader, upstream_reader)
        finally:
            self._links.discard(link)


class _Link:
    """One proxied connection: two directions, each a reader and a delayed, paced writer."""

    def __init__(self, proxy: FaultProxy, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.proxy, self.client, self.upstream = proxy, client, upstream
        self.tasks: list[asyncio.Task[None]] = []

    async def run(self, client_reader: asyncio.StreamReader, upstream_reader: asyncio.StreamReader) -> None:
        to_upstream: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        to_client: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        self.tasks = [asyncio.create_task(coro) for coro in (
            self._read(client_reader, to_upstream), self._write(to_upstream, self.upstream),
            self._read(upstream_reader, to_client), self._write(to_client, self.client))]
        try:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        finally:
            self.close(rst=False)
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _read(self, reader: asyncio.StreamReader, queue: asyncio.Queue[tuple[float, bytes]]) -> None:
        loop = asyncio.get_running_loop()
        try:
            while chunk := await reader.read(CHUNK):
                queue.put_nowait((loop.time() + self.proxy.delay, chunk))
        except OSError:
            pass
        queue.put_nowait((loop.time() + self.proxy.delay, _EOF))

    async def _write(self, queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                due, chunk = await queue.get()
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                await self.proxy._flowing.wait()
                if chunk == _EOF:
                    break
                await self._send(writer, chunk)
        except OSError:
            pass
        self.close(rst=False)

    async def _send(self, writer: asyncio.StreamWriter, chunk: bytes) -> None:
        rate = self.proxy.bytes_per_s
        step = len(chunk) if not rate else max(1, min(CHUNK, int(rate / 20)))
        for start in range(0, len(chunk), step):
            piece = chunk[start:start + step]
            if rate:
                await asyncio.sleep(len(piece) / rate)  # before, not after: the first byte pays too
            writer.write(piece)
            await writer.drain()

    def close(self, *, rst: bool) -> None:
        for task in self.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        _abort(self.client, rst=rst)
        _abort(self.upstream, rst=rst)


def _abort(writer: asyncio.StreamWriter, *, rst: bool) -> None:
    if writer.transport.is_closing():
        return
    if rst:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Linger on, timeout 0: close() sends RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    else:
        writer.close()


class ThreadedFaultProxy:
    """A ``FaultProxy`` running on its own loop in a daemon thread; every method is safe to call from sync code."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="faultproxy", daemon=True)
        self._thread.start()
        self._run(proxy.start())

    @property
    def port(self) -> int:
        return self.proxy.port

    def normal(self) -> None:
        self._call(self.proxy.normal)

    def latency(self, seconds_each_way: float) -> None:
        self._call(self.proxy.latency, seconds_each_way)

    def bandwidth(self, bytes_per_s: float | None) -> None:
        self._call(self.proxy.bandwidth, bytes_per_s)

    def blackhole(self) -> None:
        self._call(self.proxy.blackhole)

    def reset(self) -> None:
        self._call(self.proxy.reset)

    def stop(self) -> None:
        if not self.loop.is_closed():
            self._run(self.proxy.stop())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
            self.loop.close()

    def __enter__(self) -> ThreadedFaultProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _call(self, method: Callable[..., None], *args: Any) -> None:
        async def call() -> None:
            method(*args)

        self._run(call())

    def _run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=10)


async def _serve(args: argparse.Namespace) -> None:
    host, _, port = args.target.rpartition(":")
    proxy = await FaultProxy(args.listen, host or "127.0.0.1", int(port)).start()
    if args.latency:
        proxy.latency(args.latency)
    if args.bandwidth:
        proxy.bandwidth(args.bandwidth)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    print(f"listening on {proxy.port}", flush=True)  # the parent reads the port from this line
    await stopped.wait()
    await proxy.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="TCP proxy with injectable latency and bandwidth limits.")
    parser.add_argument("--target", required=True, help="host:port to forward to")
    parser.add_argument("--listen", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added in each direction")
    parser.add_argument("--bandwidth", type=float, default=None, help="bytes per second per direction")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
