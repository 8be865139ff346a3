"""The console's weight and speed in headless Chromium (Debian's, through Playwright).

    .venv/bin/python -m bench.console [--database-url URL] [--loads 5] [--port 8250]

For each console page the build holds (/console/ the map, /console/digest, /console/queue):
the bytes a first load transfers (a fresh browser profile each time, so nothing is cached;
response bodies as received, gzip-compressed by the service, summed over every request until
the network is quiet), and for the map the time from navigation to the first rendered map
(MapLibre's first `idle`: style, outlines, choropleth and the incident tiles drawn; the page
records it as `data-first-map-ms`). Medians of --loads loads, each page as the public sees it.

Data: --database-url, else `ceasefire_console_bench` beside DATABASE_URL, made once (migrated,
seeded, the demo UCDP extract imported as verified by "UCDP GED", its digests built), then
reused; and `ceasefire_bench_1m` (the 1,000,000-incident set of `make bench`) when it exists.
Goal: at most 1.5 MB compressed on a first load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.servers import REPO, Server
from service.config import get_settings, sqlalchemy_url

CEASEFIRE = str(Path(sys.executable).parent / "ceasefire")
PAGES = {"map": "/console/", "digest": "/console/digest", "queue": "/console/queue"}
GOAL_BYTES = 1.5 * 1024 * 1024
BIG = "ceasefire_bench_1m"


def _run(database_url: str, *args: str) -> None:
    subprocess.run(  # noqa: S603 - our own command
        [CEASEFIRE, *args],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        check=True,
    )


def _database(name: str) -> str:
    return (
        make_url(sqlalchemy_url(get_settings().database_url))
        .set(database=name)
        .render_as_string(hide_password=False)
    )


def _exists(url: str) -> bool:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"))
    try:
        with admin.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            ).first()
    finally:
        admin.dispose()
    return found is not None


def demo_database() -> str:
    """`ceasefire_console_bench` holding the demo, made on first use."""
    url = _database("ceasefire_console_bench")
    if _exists(url):
        return url
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    events = get_settings().data_dir / "events" / "ucdp_ged_syria_2016-01_2017-01.csv"
    print(f"loading the demo into {parsed.database} (once)", file=sys.stderr)
    _run(url, "migrate")
    _run(url, "seed")
    _run(url, "import", "ucdp", str(events), "--verified-by", "UCDP GED", "--no-progress")
    _run(url, "digest", "backfill", "--from", "2016-12-30", "--to", "2017-01-31")
    return url


def first_load(  # noqa: ANN201
    browser,  # noqa: ANN001
    url: str,
    page_name: str,
    shot: Path | None = None,
    width: int = 1280,
) -> tuple[int, float | None]:
    """(bytes received, ms to the first rendered map or None) for one load, no cache; with
    ``shot``, a screenshot of the page once it has settled."""
    context = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        finished = []
        page.on("requestfinished", lambda request: finished.append(request))
        page.goto(url)
        first_map = None
        if page_name == "map":
            page.wait_for_function(
                "() => document.body.dataset.firstMapMs !== undefined", timeout=120_000
            )
            first_map = float(page.locator("body").get_attribute("data-first-map-ms"))
        page.wait_for_load_state("networkidle", timeout=120_000)
        received = sum(request.sizes()["responseBodySize"] for request in finished)
        if shot is not None:
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot))
            print(f"  screenshot: {shot}")
        return received, first_map
    finally:
        context.close()


def measure(  # noqa: ANN201
    browser,  # noqa: ANN001
    base: str,
    loads: int,
    shots: Path | None = None,
) -> dict[str, tuple[float, float | None]]:
    import httpx

    out = {}
    for name, path in PAGES.items():
        if httpx.get(base + path).status_code != 200:
            print(f"  {name}: not built (no {path}); skipped")
            continue
        runs = [first_load(browser, base + path, name) for _ in range(loads)]
        if shots is not None:
            first_load(browser, base + path, name, shots / f"{name}.png")
            if name == "map":
                first_load(browser, base + path, name, shots / f"{name}-375px.png", width=375)
        received = statistics.median(r[0] for r in runs)
        times = [r[1] for r in runs if r[1] is not None]
        first = statistics.median(times) if times else None
        out[name] = (received, first)
        shown = f", first map {first:.0f} ms" if first is not None else ""
        verdict = "within" if received <= GOAL_BYTES else "OVER"
        print(
            f"  {name}: {received / 1024:.0f} KiB on a first load"
            f" ({verdict} the 1.5 MB goal){shown}  (median of {loads})"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--port", type=int, default=8250)
    parser.add_argument(
        "--screenshots",
        type=Path,
        default=None,
        help="save a screenshot of each page (demo data set) here, e.g. docs/console",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    if not (get_settings().console_dir / "map.html").is_file():
        sys.exit("the console is not built: run .ci/provision")
    sets = [("demo", args.database_url or demo_database())]
    big = _database(BIG)
    if _exists(big):
        sets.append(("1M", big))
    else:
        print(f"no {BIG} database: the 1M figures are not measured (make bench makes it)")
    base = f"http://127.0.0.1:{args.port}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
        )
        try:
            for label, url in sets:
                server = Server(
                    name=f"ceasefire ({label})",
                    base=base,
                    command=[CEASEFIRE, "serve", "--port", str(args.port), "--workers", "2"],
                    env={
                        "DATABASE_URL": url,
                        "CEASEFIRE_PUBLIC_BASE_URL": base,
                        "CEASEFIRE_LOG_LEVEL": "WARNING",
                        "CEASEFIRE_RATE_LIMIT_ANONYMOUS_REQUESTS": "0",
                        "CEASEFIRE_MAX_CONCURRENT_PER_CLIENT": "0",
                    },
                    cwd=REPO,
                    log=REPO / "bench" / "results" / "tmp" / f"console-{label}.log",
                    ready_path="/healthz",
                )
                print(f"{label} data set ({make_url(url).database}):")
                server.start()
                try:
                    measure(
                        browser, base, args.loads, args.screenshots if label == "demo" else None
                    )
                finally:
                    server.stop()
        finally:
            browser.close()


if __name__ == "__main__":
    main()
