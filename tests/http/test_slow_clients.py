"""Slow and starving clients, against real `ceasefire serve` processes.

- A body trickled slower than ``body_timeout_s`` is answered 408 (problem+json) and the
  connection closed; so are headers trickled slower than ``header_timeout_s``.
- One client address cannot have more than ``max_concurrent_per_client`` requests in
  progress; another client is served meanwhile.
- With every connection of the database pool held by requests blocked on a lock (and the
  thread pool full of requests waiting for the pool), /healthz, /readyz and /metrics still
  answer at once.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.audit.service import CONSOLE
from service.auth.service import create_key
from tests.live import LiveServer, copied_database

# Deadlines of seconds and a starved pool, timed: alone, after the parallel run.
pytestmark = [pytest.mark.live, pytest.mark.serial]

BODY_TIMEOUT_S = 2
HEADER_TIMEOUT_S = 2
PER_CLIENT = 3


@pytest.fixture(scope="module")
def live_db(engine):
    with copied_database(engine, "edge_live") as (url, live_engine):
        yield url, live_engine


def _key(live_engine, role: str) -> str:
    with Session(live_engine) as session:
        _, secret = create_key(session=session, role=role, name=f"edge {role}", actor=CONSOLE)
        session.commit()
    return secret


@pytest.fixture(scope="module")
def strict(live_db, tmp_path_factory):
    """A server with short body and header deadlines and a small per-client bound."""
    url, _ = live_db
    server = LiveServer(
        url,
        workers=1,
        env={
            "CEASEFIRE_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
            "CEASEFIRE_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
            "CEASEFIRE_MAX_CONCURRENT_PER_CLIENT": str(PER_CLIENT),
            "CEASEFIRE_LOG_LEVEL": "WARNING",
        },
        log_path=tmp_path_factory.mktemp("strict") / "serve.log",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _connect(server: LiveServer, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(
        ("127.0.0.1", server.port), timeout=10, source_address=(source, 0)
    )
    return sock


def _read_response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _trickle(sock: socket.socket, data: bytes, every_s: float, stop: threading.Event) -> None:
    for byte in data:
        if stop.wait(every_s):
            return
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return


def _slow_body_request(path: str = "/v1/reports", length: int = 200) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def test_a_trickled_body_is_refused_408_and_the_connection_closed(strict):
    stop = threading.Event()
    with _connect(strict) as sock:
        started = time.monotonic()
        sock.sendall(_slow_body_request())
        trickler = threading.Thread(target=_trickle, args=(sock, b"{" * 200, 0.5, stop))
        trickler.start()
        try:
            answer = _read_response(sock)  # returns once the server closes the connection
        finally:
            stop.set()
            trickler.join()
        elapsed = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"content-type: application/problem+json" in head.lower()
    assert b"connection: close" in head.lower()
    assert b"did not arrive within 2 s" in body
    print(f"\n408 after {elapsed:.2f} s (limit {BODY_TIMEOUT_S} s)")
    assert BODY_TIMEOUT_S - 0.2 <= elapsed <= BODY_TIMEOUT_S + 1


def test_trickled_headers_are_refused_408_and_the_connection_closed(strict):
    stop = threading.Event()
    with _connect(strict) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /v1/parties HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        trickler = threading.Thread(
            target=_trickle, args=(sock, b"X-Slow: " + b"a" * 100, 0.3, stop)
        )
        trickler.start()
        try:
            answer = _read_response(sock)
        finally:
            stop.set()
            trickler.join()
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"application/problem+json" in answer
    assert HEADER_TIMEOUT_S - 0.2 <= elapsed <= HEADER_TIMEOUT_S + 1


def test_an_idle_connection_without_a_request_is_closed(strict):
    with _connect(strict) as sock:
        started = time.monotonic()
        answer = _read_response(sock)
        assert answer.startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started <= HEADER_TIMEOUT_S + 1


def test_keep_alive_connections_serve_several_requests(strict):
    # The header deadline re-arms after each response; it does not cut a healthy client.
    with httpx.Client(base_url=strict.url) as client:
        for _ in range(3):
            assert client.get("/v1/parties").status_code == 200
            time.sleep(HEADER_TIMEOUT_S / 2)


def test_one_client_cannot_hold_more_than_its_share(strict):
    stop = threading.Event()
    socks, tricklers = [], []
    try:
        for _ in range(PER_CLIENT):
            sock = _connect(strict)
            sock.sendall(_slow_body_request())
            trickler = threading.Thread(target=_trickle, args=(sock, b"{" * 200, 0.5, stop))
            trickler.start()
            socks.append(sock)
            tricklers.append(trickler)
        time.sleep(0.5)  # the slow requests are in progress
        extra = httpx.get(strict.url + "/v1/parties", timeout=5)
        other_client = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        with other_client:
            served = other_client.get(strict.url + "/v1/parties", timeout=5)
        # Liveness is not bounded per client (probes share addresses).
        alive = httpx.get(strict.url + "/healthz", timeout=5)
    finally:
        stop.set()
        for trickler in tricklers:
            trickler.join()
        for sock in socks:
            sock.close()
    assert extra.status_code == 429, extra.text
    assert extra.headers["content-type"] == "application/problem+json"
    assert extra.headers["retry-after"] == "1"
    assert served.status_code == 200
    assert alive.status_code == 200
    # Once they are gone, the client is served again.
    assert httpx.get(strict.url + "/v1/parties", timeout=5).status_code == 200


# ---- health while the pool is exhausted ----

POOL = 2
SLOW_REQUESTS = 60  # more than the pool, and more than AnyIO's 40 worker threads


@pytest.fixture(scope="module")
def starved(live_db, tmp_path_factory):
    url, live_engine = live_db
    server = LiveServer(
        url,
        workers=1,
        env={
            "CEASEFIRE_DB_POOL_SIZE": str(POOL),
            "CEASEFIRE_DB_MAX_OVERFLOW": "0",
            "CEASEFIRE_DB_POOL_TIMEOUT_S": "20",
            "CEASEFIRE_MAX_CONCURRENT_PER_CLIENT": "0",
            "CEASEFIRE_LOG_LEVEL": "WARNING",
        },
        log_path=tmp_path_factory.mktemp("starved") / "serve.log",
    )
    server.start()
    try:
        yield server, live_engine
    finally:
        server.stop()


def _timed(client: httpx.Client, path: str, headers: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    status = client.get(path, headers=headers).status_code
    return time.perf_counter() - started, status


def test_health_readiness_and_metrics_answer_while_the_pool_is_exhausted(starved):
    server, live_engine = starved
    monitor = {"Authorization": f"Bearer {_key(live_engine, 'monitor')}"}
    slow_key = {"Authorization": f"Bearer {_key(live_engine, 'monitor')}"}
    results: list[int] = []

    def slow_request() -> None:
        try:
            response = httpx.get(
                server.url + "/collections/incidents/items?limit=1",
                headers=slow_key,
                timeout=60,
            )
            results.append(response.status_code)
        except httpx.HTTPError:
            results.append(0)

    with live_engine.connect() as locker:
        locker.execute(text("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE"))
        threads = [threading.Thread(target=slow_request) for _ in range(SLOW_REQUESTS)]
        for thread in threads:
            thread.start()
        try:
            # Every pool connection is waiting for the lock.
            deadline = time.monotonic() + 15
            blocked = 0
            while time.monotonic() < deadline:
                with live_engine.connect() as probe:
                    blocked = probe.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                            " AND application_name = 'ceasefire' AND wait_event_type = 'Lock'"
                        )
                    ).scalar_one()
                if blocked == POOL:
                    break
                time.sleep(0.2)
            assert blocked == POOL
            time.sleep(1)  # the other requests queue for the pool and the threads
            timings: dict[str, list[float]] = {}
            with httpx.Client(base_url=server.url, timeout=10) as client:
                for _ in range(7):
                    for path, headers in (
                        ("/healthz", {}),
                        ("/readyz", {}),
                        ("/metrics", monitor),
                    ):
                        elapsed, status = _timed(client, path, headers)
                        assert status == 200, (path, status)
                        timings.setdefault(path, []).append(elapsed)
            still_blocked = sum(1 for t in threads if t.is_alive())
        finally:
            locker.rollback()
        for thread in threads:
            thread.join(timeout=60)
    medians = {path: statistics.median(values) for path, values in timings.items()}
    print(
        "\nwith the pool exhausted: "
        + ", ".join(f"{path} median {m * 1000:.1f} ms" for path, m in medians.items())
    )
    assert still_blocked == SLOW_REQUESTS  # none had been answered while we measured
    for path, median in medians.items():
        assert median < 0.5, (path, median)
    # The slow requests finish once the lock is gone (200), or gave up waiting (503).
    assert len(results) == SLOW_REQUESTS and set(results) <= {200, 503}
