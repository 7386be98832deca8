"""RSS of one `roadmap-agent serve` (embedded) while 4 clients upload 200 MB chunked bodies (no Content-Length).

Rows, all in this run against the same process: idle (the baseline), 4 clients sending small JSON bodies (the
control), then 4 clients each streaming 200 MB with ``Transfer-Encoding: chunked`` to a route that reads its body
(``POST /api/v1/roadmaps``) and to a path without a route (``POST /x``). Printed: peak RSS, the ratio to the idle
baseline, what each client managed to send before the server answered, and the status it got. Before finding 1
was fixed, four 200 MB uploads took the server from ~180 MB to 1.39 GB.

    python bench/upload_memory.py [--mb 200] [--clients 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import threading
import time
from pathlib import Path

from harness import HOST, clean_environ, processes

CHUNK = 64 * 1024


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """Peak RSS of ``pid``, sampled every 20 ms on a thread while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def upload(port: int, path: str, total: int) -> tuple[int, str]:
    """Stream ``total`` bytes chunked; (bytes sent before the server answered or closed, its status line)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n".encode())
    sent, chunk = 0, f"{CHUNK:x}\r\n".encode() + b"\0" * CHUNK + b"\r\n"
    answered = asyncio.create_task(reader.readline())
    try:
        while sent < total and not answered.done():
            writer.write(chunk)
            await writer.drain()
            sent += CHUNK
        if not answered.done():
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    with contextlib.suppress(Exception):
        status = (await asyncio.wait_for(answered, 10)).decode().strip()
        writer.close()
        return sent, status
    return sent, "(closed without an answer)"


async def row(port: int, path: str, total: int, clients: int) -> list[tuple[int, str]]:
    return await asyncio.gather(*(upload(port, path, total) for _ in range(clients)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="roadmap-bench-upload-") as root, processes(Path(root)) as group:
        env = {**clean_environ(), "ROADMAP_AGENT_HOME": f"{root}/home", "LOG_LEVEL": "WARNING"}
        api = group.api(env)
        port = api.port or 0
        time.sleep(2)
        idle = rss_mb(api.pid)
        print(f"serve pid {api.pid}; {args.clients} clients at once; RSS in MB (peak while the row ran)\n")
        print(f"{'row':<44} {'peak RSS':>9} {'x idle':>7}  sent per client / answer")
        print(f"{'idle (baseline)':<44} {idle:>9.1f} {1.0:>7.2f}")
        rows = [("1 KB chunked to POST /api/v1/roadmaps (control)", "/api/v1/roadmaps", 1024),
                (f"{args.mb} MB chunked to POST /api/v1/roadmaps", "/api/v1/roadmaps", args.mb * 1024 * 1024),
                (f"{args.mb} MB chunked to POST /x (no route)", "/x", args.mb * 1024 * 1024)]
        for name, path, total in rows:
            with Sampler(api.pid) as sampler:
                results = asyncio.run(row(port, path, total, args.clients))
                time.sleep(0.3)
            sent = max(s for s, _ in results) / (1024 * 1024)
            answers = sorted({status for _, status in results})
            print(f"{name:<44} {sampler.peak:>9.1f} {sampler.peak / idle:>7.2f}  <= {sent:.2f} MB / {answers}")


if __name__ == "__main__":
    main()
