"""A real HTTP receiver on loopback that records what it is sent."""

from __future__ import annotations

import os
import socket
import ssl
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import cycle

# The ports this branch may use (8401-8429), handed out one per receiver. Under pytest-xdist
# each worker cycles through a slice of its own (gw0 the first, gw1 the next, ...), and any
# port something else is listening on is passed over.
FIRST_PORT, LAST_PORT = 8401, 8429


def _worker_ports() -> list[int]:
    ports = list(range(FIRST_PORT, LAST_PORT + 1))
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    size = len(ports) // workers
    if size < 2:
        raise RuntimeError(f"{workers} workers are too many for the test ports")
    return ports[worker * size : (worker + 1) * size]


_PORTS = cycle(_worker_ports())


def _free(port: int) -> bool:
    """Nothing listens on ``port`` on either loopback address the receivers use."""
    for host in ("127.0.0.1", "127.0.0.2"):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                return False
    return True


def next_port() -> int:
    for _ in range(LAST_PORT - FIRST_PORT + 1):
        port = next(_PORTS)
        if _free(port):
            return port
    raise RuntimeError("out of test ports")


class Received:
    def __init__(self, headers: dict[str, str], body: bytes) -> None:
        self.headers = headers
        self.body = body


class Receiver:
    """Answers each POST with the next status in ``statuses`` (then 200); on ``host`` (any
    loopback address), over TLS when given a server ``tls`` context."""

    def __init__(
        self,
        statuses: Iterable[int] = (),
        port: int | None = None,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.port = port or next_port()
        self.host = host
        self.statuses = list(statuses)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append(
                        Received({k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if status in (301, 302, 307, 308):
                    self.send_header("Location", f"http://127.0.0.1:{receiver.port}/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, self.port), Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
