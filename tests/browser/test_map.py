"""The console's map page in headless Chromium (see conftest.py for the data and the watch
kept on every page: no console error, no request to another host, a screenshot each)."""

from __future__ import annotations

import io

from PIL import Image

MAP_IDLE = "() => document.body.dataset.map === 'idle'"
# The fill of incident cells and points (map/style.js): a red no outline or land shares.
INCIDENT_RGB = (192, 57, 43)


def wait_idle(page) -> None:  # noqa: ANN001
    page.wait_for_function(MAP_IDLE, timeout=30_000)


def incident_pixels(page) -> int:  # noqa: ANN001
    """Pixels of the map canvas drawn in the incidents' colour (within a small tolerance)."""
    data = Image.open(io.BytesIO(page.locator("#map canvas").screenshot())).convert("RGB").tobytes()
    red, green, blue = INCIDENT_RGB
    return sum(
        1
        for i in range(0, len(data), 3)
        if abs(data[i] - red) < 40
        and abs(data[i + 1] - green) < 40
        and abs(data[i + 2] - blue) < 40
    )


def test_the_public_map_draws_incidents_from_this_service_only(open_page, live_console):
    watched = open_page("/console/")
    wait_idle(watched.page)
    assert incident_pixels(watched.page) > 200
    tiles = [url for url in watched.requests if "/tiles/incidents/" in url]
    assert tiles, "the map asked for no incident tile"
    assert all(url.startswith(live_console.url) for url in watched.requests if "://" in url)
