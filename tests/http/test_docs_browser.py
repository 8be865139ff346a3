"""/docs and /redoc render in a real browser with no network: headless Chromium, every host
but the loopback unresolvable, loads each page from a live `ceasefire serve` and must find
the API's operations drawn on it.

Needs Debian's `chromium` (installed by .ci/provision) and starts a server: not in
`make test-fast`.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import TEST_DATABASE_URL
from tests.live import BROWSER_REQUIRED, CHROMIUM, NO_BROWSER, LiveServer

# A server and a browser: not in `make test-fast`.
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(CHROMIUM is None and not BROWSER_REQUIRED, reason=NO_BROWSER),
]


@pytest.fixture(scope="module")
def server(engine, tmp_path_factory):
    live = LiveServer(
        TEST_DATABASE_URL,
        workers=1,
        env={"CEASEFIRE_LOG_LEVEL": "WARNING"},
        log_path=tmp_path_factory.mktemp("docs-browser") / "serve.log",
    )
    try:
        live.start()
        yield live
    finally:
        live.stop()


def rendered(url: str, profile) -> str:  # noqa: ANN001
    """The page's DOM once its scripts have run, as headless Chromium sees it offline."""
    done = subprocess.run(  # noqa: S603
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            # Any host but the service's is unknown: a page needing the network fails here.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_swagger_ui_draws_the_operations_offline(server, tmp_path):
    dom = rendered(server.url + "/docs", tmp_path / "profile")
    assert 'class="swagger-ui"' in dom
    assert dom.count("opblock-summary-path") > 20  # one per operation
    assert "/v1/reports" in dom and "/collections/incidents/items" in dom


def test_redoc_draws_the_operations_offline(server, tmp_path):
    dom = rendered(server.url + "/redoc", tmp_path / "profile")
    assert dom.count('id="operation/') > 20 or dom.count('data-section-id="operation/') > 20
    assert "/collections/incidents/items" in dom
