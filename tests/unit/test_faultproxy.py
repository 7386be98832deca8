"""The fault-injection proxy that benches and chaos tests rely on, against a local echo server."""

from __future__ import annotations

import asyncio
import socket
import socketserver
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from faultproxy import FaultProxy  # scripts/ is not a package: its folder is put on sys.path just above

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    handlers: set[asyncio.Task[None]] = set()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with server:
        yield int(server.sockets[0].getsockname()[1])
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


class _SyncEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def threaded_echo_port() -> Iterator[int]:
    """An echo server on its own thread, for the test written in sync code (no event loop runs there)."""
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SyncEcho) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield int(server.server_address[1])
        server.shutdown()


@pytest.fixture
async def proxy(echo_port: int) -> AsyncIterator[FaultProxy]:
    started = await FaultProxy(0, "127.0.0.1", echo_port).start()
    yield started
    await started.stop()


async def _connect(port: int) -> Stream:
    return await asyncio.open_connection("127.0.0.1", port)


async def _round_trip(stream: Stream, payload: bytes = b"ping") -> float:
    reader, writer = stream
    started = time.perf_counter()
    writer.write(payload)
    await writer.drain()
    assert await reader.readexactly(len(payload)) == payload
    return time.perf_counter() - started


async def _close(stream: Stream) -> None:
    stream[1].close()
    try:
        await stream[1].wait_closed()
    except OSError:
        pass  # the proxy reset it, as the test asked


async def test_latency_delays_each_direction_and_normal_restores(proxy: FaultProxy) -> None:
    stream = await _connect(proxy.port)
    proxy.latency(0.05)
    assert await _round_trip(stream) >= 0.1  # 50 ms out, 50 ms back
    proxy.normal()
    assert await _round_trip(stream) < 0.05
    await _close(stream)


async def test_blackhole_holds_data_until_normal(proxy: FaultProxy) -> None:
    stream = await _connect(proxy.port)
    await _round_trip(stream)
    proxy.blackhole()
    reader, writer = stream
    writer.write(b"lost?")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await reader.readexactly(5)
    proxy.normal()
    async with asyncio.timeout(2):
        assert await reader.readexactly(5) == b"lost?"
    await _close(stream)


async def test_blackhole_swallows_new_connections(proxy: FaultProxy) -> None:
    proxy.blackhole()
    stream = await _connect(proxy.port)  # accepted by the proxy ...
    stream[1].write(b"hello")
    with pytest.raises(TimeoutError):  # ... but nothing comes back
        async with asyncio.timeout(0.3):
            await stream[0].readexactly(5)
    await _close(stream)


async def test_reset_kills_open_and_new_connections_until_normal(proxy: FaultProxy) -> None:
    stream = await _connect(proxy.port)
    await _round_trip(stream)
    proxy.reset()
    with pytest.raises(ConnectionResetError):
        await _round_trip(stream)
    await _close(stream)
    fresh = await _connect(proxy.port)
    with pytest.raises(ConnectionResetError):
        await _round_trip(fresh)
    await _close(fresh)
    proxy.normal()
    restored = await _connect(proxy.port)
    assert await _round_trip(restored) < 1
    await _close(restored)


async def test_bandwidth_paces_transfers(proxy: FaultProxy) -> None:
    stream = await _connect(proxy.port)
    proxy.bandwidth(200_000)
    assert await _round_trip(stream, b"x" * 40_000) >= 0.2  # 40 KB take 0.2 s at 200 KB/s
    await _close(stream)


def test_threaded_proxy_from_sync_code(threaded_echo_port: int) -> None:
    with FaultProxy(0, "127.0.0.1", threaded_echo_port).run_in_thread() as handle:
        handle.latency(0.05)
        with socket.create_connection(("127.0.0.1", handle.port), timeout=5) as sock:
            started = time.perf_counter()
            sock.sendall(b"ping")
            assert sock.recv(4) == b"ping"
            assert time.perf_counter() - started >= 0.1
            handle.blackhole()
            sock.settimeout(0.3)
            sock.sendall(b"ping")
            with pytest.raises(TimeoutError):
                sock.recv(4)
            handle.normal()
            sock.settimeout(2)
            assert sock.recv(4) == b"ping"
