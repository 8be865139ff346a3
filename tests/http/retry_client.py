"""A client process for the live-server tests (not a test module).

Takes a job as its one argument (JSON): {"url", "method", "headers", "json", "requests", "concurrent",
"start_at"}. With "concurrent", every request waits until "start_at" (Unix time) and then
all go at once, one thread each; otherwise they go one after another. Prints one outcome per
request as JSON: {"status", "id", "retry_after", "error"}.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import httpx


def _one(client: httpx.Client, job: dict) -> dict:
    try:
        response = client.request(
            job.get("method", "POST"), job["url"], headers=job["headers"], json=job.get("json")
        )
    except httpx.HTTPError as exc:
        return {"status": None, "id": None, "retry_after": None, "error": type(exc).__name__}
    body = response.json() if response.content else {}
    return {
        "status": response.status_code,
        "id": body.get("id") if isinstance(body, dict) else None,
        "retry_after": response.headers.get("retry-after"),
        "error": None,
    }


def main() -> None:
    job = json.loads(sys.argv[1])
    count = job["requests"]
    results: list[dict | None] = [None] * count
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    with httpx.Client(timeout=30, limits=limits) as client:
        if not job.get("concurrent"):
            for i in range(count):
                results[i] = _one(client, job)
        else:
            go = threading.Event()

            def worker(i: int) -> None:
                go.wait(timeout=30)
                results[i] = _one(client, job)

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
            for thread in threads:
                thread.start()
            time.sleep(max(0.0, job["start_at"] - time.time()))
            go.set()
            for thread in threads:
                thread.join(timeout=60)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
