"""A small closed-loop HTTP/1.1 load generator for loopback benchmarks.

Raw asyncio streams with keep-alive, so the client's own cost stays far below the servers'
(the client shares the machine's two cores with them and PostgreSQL). Each of ``concurrency``
connections sends its next request as soon as the previous answer is read in full; latency is
from the first byte sent to the last byte read.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Result:
    latencies_s: list[float] = field(default_factory=list)
    bytes_read: int = 0
    errors: dict[int, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies_s)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        if not ordered:
            return float("nan")
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
        return ordered[index]

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_s) * 1000 if self.latencies_s else float("nan")

    @property
    def p99_ms(self) -> float:
        return self.percentile(99) * 1000

    @property
    def rps(self) -> float:
        return self.count / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def mean_bytes(self) -> float:
        return self.bytes_read / self.count if self.count else 0.0


class Connection:
    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, limit=64 * 1024 * 1024
        )

    async def get(self, target: str) -> tuple[int, bytes]:
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(
            f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.extra}\r\n".encode()
        )
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = b""
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def _run(
    base: str,
    targets: Sequence[str],
    *,
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    headers: dict[str, str],
) -> Result:
    parts = urlsplit(base)
    result = Result()
    issued = 0
    started = time.perf_counter()
    deadline = started + max_seconds

    async def worker() -> None:
        nonlocal issued
        connection = Connection(parts.hostname or "127.0.0.1", parts.port or 80, headers)
        try:
            while issued < max_requests and time.perf_counter() < deadline:
                target = targets[issued % len(targets)]
                issued += 1
                t0 = time.perf_counter()
                status, body = await connection.get(target)
                elapsed = time.perf_counter() - t0
                if status == 200:
                    result.latencies_s.append(elapsed)
                    result.bytes_read += len(body)
                else:
                    result.errors[status] = result.errors.get(status, 0) + 1
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - started
    return result


def run(
    base: str,
    targets: Sequence[str],
    *,
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    headers: dict[str, str] | None = None,
) -> Result:
    """Send GETs for ``targets`` (paths with query, cycled) until either bound is reached."""
    return asyncio.run(
        _run(
            base,
            targets,
            concurrency=concurrency,
            max_requests=max_requests,
            max_seconds=max_seconds,
            headers=headers or {},
        )
    )


def fetch(base: str, target: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    async def once() -> tuple[int, bytes]:
        parts = urlsplit(base)
        connection = Connection(parts.hostname or "127.0.0.1", parts.port or 80, headers or {})
        try:
            return await connection.get(target)
        finally:
            await connection.close()

    return asyncio.run(once())
