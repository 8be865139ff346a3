"""The console in a real browser: Playwright drives Debian's headless Chromium (never a
downloaded browser) against one live `ceasefire serve` for the whole directory, on a copy of
the test database loaded through the service's own importer:

- December 2016 of the real UCDP GED extract, imported as verified by "UCDP GED" (the public
  map shows these), and January 2017 imported unverified (only a monitor, verifier or admin
  key sees those);
- the days' digests built by `ceasefire digest backfill`.

Every page a test opens fails the test on a console error, an uncaught exception, or a
request to any host but the service's (each such request is aborted and recorded), and its
screenshot is kept in tests/browser/artifacts/ (the path is printed).

Starts a server and a browser: in `make test`, not in `make test-fast`.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from service.config import get_settings
from tests.conftest import TEST_DATABASE_URL
from tests.live import (
    BROWSER_REQUIRED,
    CHROMIUM,
    NO_BROWSER,
    LiveServer,
    console,
    copy_database,
    create_key,
    drop_database,
)

if BROWSER_REQUIRED:
    import playwright.sync_api as playwright_api
else:
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: `make provision` installs it"
    )
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
EVENTS = "events/ucdp_ged_syria_2016-01_2017-01.csv"
VERIFIED_MONTH = "2016-12"
UNVERIFIED_MONTH = "2017-01"
DIGESTS = ("2016-12-30", "2017-01-31")


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    # A machine without a browser cannot run these (.ci/provision installs Debian's); under
    # `make test` a missing browser fails them instead.
    if CHROMIUM is None and not BROWSER_REQUIRED:
        skip = pytest.mark.skip(reason=NO_BROWSER)
        for item in items:
            if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def console_built() -> None:
    """A missing build is a failure, not a skip: `make test` builds it (.ci/provision), so
    its absence means the build broke, which these tests exist to catch."""
    if not (get_settings().console_dir / "map.html").is_file():
        pytest.fail("the console is not built: run .ci/provision (or npm run build in web/)")


def _month(source: Path, target: Path, month: str) -> Path:
    with source.open(newline="") as src, target.open("w", newline="") as out:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
        writer.writeheader()
        writer.writerows(row for row in reader if row["date_start"].startswith(month))
    return target


@dataclass
class Console:
    """The live service the browser tests share, and keys made on it (one per role)."""

    server: LiveServer
    database_url: str
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def key(self, role: str) -> str:
        if role not in self.keys:
            self.keys[role] = create_key(self.database_url, role, f"browser {role}")
        return self.keys[role]

    def revoke(self, role: str) -> None:
        """Revoke the role's key as an admin would (`ceasefire keys revoke`); the next
        `key(role)` makes a new one."""
        listed = console(self.database_url, "keys", "list").splitlines()[1:]
        ids = [line.split("\t")[0] for line in listed if line.endswith(f"\tbrowser {role}")]
        for key_id in ids:
            console(self.database_url, "keys", "revoke", key_id, "--reason", "browser test")
        self.keys.pop(role, None)


@pytest.fixture(scope="session")
def live_console(engine, tmp_path_factory) -> Iterator[Console]:
    engine.dispose()  # the copy needs the template database to have no connections
    url = copy_database(TEST_DATABASE_URL, "browser")
    work = tmp_path_factory.mktemp("browser")
    source = get_settings().data_dir / EVENTS
    try:
        verified = _month(source, work / "verified.csv", VERIFIED_MONTH)
        unverified = _month(source, work / "unverified.csv", UNVERIFIED_MONTH)
        console(url, "import", "ucdp", str(verified), "--verified-by", "UCDP GED", "--no-progress")
        console(url, "import", "ucdp", str(unverified), "--no-progress")
        console(url, "digest", "backfill", "--from", DIGESTS[0], "--to", DIGESTS[1])
        server = LiveServer(
            url,
            workers=1,
            env={
                "CEASEFIRE_LOG_LEVEL": "WARNING",
                # A page load makes dozens of requests (tiles): no per-address limit here.
                "CEASEFIRE_RATE_LIMIT_ANONYMOUS_REQUESTS": "0",
                "CEASEFIRE_MAX_CONCURRENT_PER_CLIENT": "0",
            },
            log_path=work / "serve.log",
        )
        server.env["CEASEFIRE_PUBLIC_BASE_URL"] = server.url
        server.start()
        try:
            yield Console(server, url)
        finally:
            server.stop()
    finally:
        drop_database(url)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium for one test module: Playwright's driver is stopped before the tests of
    other directories run (their event loops never meet it)."""
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # WebGL without a GPU (MapLibre draws with it); no sandbox as root in CI.
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Watched:
    """A page with what went wrong on it so far."""

    page: object
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    requests: list[object] = field(default_factory=list)  # every request the page made

    def urls(self, containing: str = "") -> list[str]:
        return [r.url for r in self.requests if containing in r.url]

    expected: list[str] = field(default_factory=list)  # errors a test provokes on purpose

    def expect_error(self, text: str) -> None:
        """Console errors containing ``text`` are the test's own doing (a refused key)."""
        self.expected.append(text)

    def assert_clean(self) -> None:
        assert not self.foreign, f"requests to other hosts: {self.foreign}"
        errors = [e for e in self.errors if not any(text in e for text in self.expected)]
        assert not errors, f"errors in the browser console: {errors}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120]


@pytest.fixture
def open_page(browser, live_console, request) -> Iterator[object]:
    """`open_page(path, key=None, width=1280, height=800)`: a new browser context (its own
    sessionStorage) at ``path`` of the live service, signed in with ``key`` when given;
    watched for console errors and foreign requests, which fail the test at its end, and
    photographed to tests/browser/artifacts/ at the end."""
    opened: list[tuple[object, Watched, str]] = []
    service = urlsplit(live_console.url).netloc

    def open_(path: str, *, key: str | None = None, width: int = 1280, height: int = 800):
        context = browser.new_context(viewport={"width": width, "height": height})
        if key is not None:
            # As if typed into the key box earlier in this tab: the console keeps it there.
            # Once per tab: after a sign-out the key stays forgotten.
            context.add_init_script(
                "if (!sessionStorage.getItem('test.seeded')) {"
                f" sessionStorage.setItem('ceasefire.console.key', {json.dumps(key)});"
                " sessionStorage.setItem('test.seeded', '1'); }"
            )
        page = context.new_page()
        watched = Watched(page)

        def route(route) -> None:  # noqa: ANN001
            if urlsplit(route.request.url).netloc == service:
                route.continue_()
            else:
                watched.foreign.append(route.request.url)
                route.abort()

        page.route(re.compile(r"^(https?|wss?)://"), route)
        page.on("request", lambda r: watched.requests.append(r))
        page.on(
            "console",
            lambda message: (
                watched.errors.append(message.text) if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))
        page.goto(live_console.url + path)
        opened.append((context, watched, f"{request.node.name}-{len(opened)}-{width}px"))
        return watched

    yield open_
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        for _context, watched, name in opened:
            shot = ARTIFACTS / f"{_slug(name)}.png"
            watched.page.screenshot(path=str(shot))
            print(f"screenshot: {shot}")
        for _, watched, _ in opened:
            watched.assert_clean()
    finally:
        for context, _, _ in opened:
            context.close()
