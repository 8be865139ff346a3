"""The console's map page in headless Chromium (see conftest.py for the data, December 2016
verified and January 2017 unverified, and the watch kept on every page: no console error,
no request to another host, a screenshot each). Three page loads in all."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import httpx
from PIL import Image

# Polled rather than taken from MapLibre's events: every source and tile loaded, nothing
# moving, and the page's counts answered for the current filters.
MAP_IDLE = (
    "() => window.consoleMap && consoleMap.loaded() && consoleMap.areTilesLoaded()"
    " && !consoleMap.isMoving() && document.body.dataset.counts === 'ready'"
)


def wait_idle(page) -> None:  # noqa: ANN001
    # Generous: WebGL is drawn in software, on a machine that may be busy.
    page.wait_for_function(MAP_IDLE, timeout=90_000)


def canvas_rgb(page) -> Image.Image:  # noqa: ANN001
    return Image.open(io.BytesIO(page.locator("#map canvas").screenshot())).convert("RGB")


def is_incident_red(rgb: tuple[int, int, int]) -> bool:
    red, green, blue = rgb
    return red > 120 and red - max(green, blue) > 60


# Where the map draws its topmost incident cell (clear of the legend, bottom left, and of
# the zoom buttons, top right): the centre of the cell's ring, in canvas pixels.
TOPMOST_CELL = """() => {
    const width = consoleMap.getCanvas().clientWidth;
    const spots = consoleMap.queryRenderedFeatures({layers: ['cells']}).map((cell) => {
        const ring = cell.geometry.coordinates[0].slice(0, -1);
        const lon = ring.reduce((sum, p) => sum + p[0], 0) / ring.length;
        const lat = ring.reduce((sum, p) => sum + p[1], 0) / ring.length;
        const at = consoleMap.project([lon, lat]);
        return {x: Math.round(at.x), y: Math.round(at.y)};
    }).filter((at) => at.x > 5 && at.x < width - 60 && at.y > 5);
    spots.sort((a, b) => a.y - b.y);
    return spots[0];
}"""


def incident_pixels(page) -> int:  # noqa: ANN001
    """Pixels of the map canvas in the incidents' reds (map/style.js): red well above green
    and blue, which no outline, land, water or choropleth colour is."""
    data = canvas_rgb(page).tobytes()
    return sum(1 for i in range(0, len(data), 3) if is_incident_red(data[i : i + 3]))


def shown_count(page) -> int:  # noqa: ANN001
    return int(page.locator("#counts").get_attribute("data-incidents"))


def api_count(base: str, key: str | None = None, **filters: str) -> int:
    """Incidents matching ``filters`` as /v1/stats/provinces counts them for this caller."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = httpx.get(f"{base}/v1/stats/provinces", params=filters, headers=headers).json()
    return sum(f["properties"]["incidents"] or 0 for f in body["features"])


def tile_queries(watched, after: int = 0) -> list[dict[str, list[str]]]:  # noqa: ANN001
    return [
        parse_qs(urlsplit(r.url).query)
        for r in watched.requests[after:]
        if "/tiles/incidents/" in r.url
    ]


def test_the_public_map_draws_filters_and_shows_a_card(open_page, live_console):
    watched = open_page("/console/")
    page = watched.page
    wait_idle(page)

    # Drawn from this service's tiles: red where a cell of incidents is, and not elsewhere.
    assert incident_pixels(page) > 200
    spot = page.evaluate(TOPMOST_CELL)
    image = canvas_rgb(page)
    assert is_incident_red(image.getpixel((spot["x"], spot["y"])))
    assert not is_incident_red(image.getpixel((3, 3)))  # the corner: background
    assert tile_queries(watched), "the map asked for no incident tile"
    assert page.locator("#status").count() == 0  # the public has no status filter
    assert page.locator("#access-status").inner_text() == "Public view"
    everything = shown_count(page)
    assert everything == api_count(live_console.url) > 0  # December only: verified

    # A filter changes the tiles asked for and the counts shown, in step with the API.
    before = len(watched.requests)
    page.select_option("#violation_type", "shelling")
    page.wait_for_function("() => location.search.includes('violation_type=shelling')")
    wait_idle(page)
    queries = tile_queries(watched, before)
    assert queries and all(q.get("violation_type") == ["shelling"] for q in queries)
    shelling = api_count(live_console.url, violation_type="shelling")
    assert shown_count(page) == shelling
    assert 0 < shelling < everything

    # A governorate in the table filters the map to it, as its select does.
    first = page.locator("table.governorates tbody tr").first
    pcode = first.get_attribute("data-pcode")
    first.locator("button").click()
    page.wait_for_function(f"() => location.search.includes('province={pcode}')")
    wait_idle(page)
    assert page.locator("#province").input_value() == pcode
    assert shown_count(page) == api_count(
        live_console.url, violation_type="shelling", province=pcode
    )

    # A confidence band (sources' grades, independent sources and keys) likewise.
    before = len(watched.requests)
    page.select_option("#confidence", "low")
    page.wait_for_function("() => location.search.includes('confidence=low')")
    wait_idle(page)
    queries = tile_queries(watched, before)
    assert queries and all(q.get("confidence") == ["low"] for q in queries)
    assert shown_count(page) == api_count(
        live_console.url, violation_type="shelling", province=pcode, confidence="low"
    )

    # Zoomed in, incidents are points; a click opens the card the public may see.
    page.click("text=Clear filters")
    page.evaluate("() => consoleMap.jumpTo({center: [37.16, 36.2], zoom: 10})")
    wait_idle(page)
    target = page.evaluate(
        """() => {
            const [hit] = consoleMap.queryRenderedFeatures({layers: ['points']});
            const at = consoleMap.project(hit.geometry.coordinates);
            return {x: at.x, y: at.y, id: hit.properties.id};
        }"""
    )
    page.locator("#map canvas").click(position={"x": target["x"], "y": target["y"]})
    card = page.locator("#card [data-incident]")
    card.wait_for(timeout=10_000)
    assert card.get_attribute("data-incident") == target["id"]
    text = page.locator("#card").inner_text()
    assert "Verified" in text and "centre of its public grid cell" in text
    assert "Place" not in text  # no place names for the public
    page.keyboard.press("Escape")
    assert page.locator("#card").is_hidden()


def test_a_monitor_sees_the_status_filter_and_unverified_incidents(open_page, live_console):
    key = live_console.key("monitor")
    watched = open_page("/console/?from=2017-01-01")
    page = watched.page
    wait_idle(page)
    # The key typed once into the header's box: kept for the tab, the field emptied.
    page.fill("#api-key", key)
    signed_in = len(watched.requests)
    with page.expect_navigation():  # the page starts again in the full view
        page.press("#api-key", "Enter")
    page.wait_for_function(
        "() => document.querySelector('#access-status')?.dataset.access === 'full'"
    )
    wait_idle(page)
    assert page.locator("#access-status").inner_text() == "Signed in: full view"
    assert page.evaluate("() => sessionStorage.getItem('ceasefire.console.key')") == key
    assert page.locator("#api-key").is_hidden()
    # By default the map shows what the counts count: no rejected or merged incident.
    defaults = tile_queries(watched, signed_in)
    assert defaults and all(q["status"] == ["unverified,verified,disputed"] for q in defaults)
    assert page.locator("#status").is_visible()

    before = len(watched.requests)
    page.select_option("#status", "unverified")
    page.wait_for_function("() => location.search.includes('status=unverified')")
    wait_idle(page)
    january = api_count(live_console.url, key, status="unverified", since="2017-01-01")
    assert shown_count(page) == january > 0
    assert api_count(live_console.url, since="2017-01-01") == 0  # the public sees none of them
    assert incident_pixels(page) > 100
    tiles = [r for r in watched.requests[before:] if "/tiles/incidents/" in r.url]
    assert tiles and all(r.headers.get("authorization") == f"Bearer {key}" for r in tiles)
    assert all(parse_qs(urlsplit(r.url).query).get("status") == ["unverified"] for r in tiles)
    # The key travels in a header only: never in a URL, never in the page's query.
    assert not [r.url for r in watched.requests if key in r.url]
    assert key not in page.url

    # Revoked meanwhile: the next answers are the service's 401 problem, shown as such.
    live_console.revoke("monitor")
    watched.expect_error("status of 401")
    page.select_option("#status", "verified")
    alert = page.locator("#problem")
    alert.wait_for(state="visible", timeout=30_000)
    assert alert.get_attribute("role") == "alert"
    assert alert.inner_text().startswith("Unauthorized (401): ")

    with page.expect_navigation():
        page.click("#sign-out")
    page.wait_for_function(
        "() => document.querySelector('#access-status')?.dataset.access === 'public'"
    )
    wait_idle(page)
    assert page.locator("#access-status").inner_text() == "Public view"
    assert page.locator("#status").count() == 0
    assert page.evaluate("() => sessionStorage.getItem('ceasefire.console.key')") is None
    # The public's days end in December (January is unverified): the period falls back to them.
    assert shown_count(page) == api_count(live_console.url) > 0


def test_a_link_reproduces_the_view_and_a_phone_can_use_it(open_page, live_console):
    link = (
        "/console/?province=SY02&violation_type=airstrike&from=2016-12-05&to=2016-12-20"
        "&guarantor=RUS#view=7/36.2/37.2"
    )
    # Signed in with a key the service does not know: it is forgotten, the view is public.
    watched = open_page(link, key="not-a-key-of-this-service", width=375, height=740)
    watched.expect_error("status of 401")  # the browser logs the refused probe
    page = watched.page
    wait_idle(page)
    status = page.locator("#access-status")
    assert status.inner_text() == "Key refused (unknown or revoked): public view"
    assert page.evaluate("() => sessionStorage.getItem('ceasefire.console.key')") is None
    assert page.locator("#status").count() == 0
    assert page.locator("#province").input_value() == "SY02"
    assert page.locator("#violation_type").input_value() == "airstrike"
    assert page.locator("#guarantor").input_value() == "RUS"
    assert page.locator("#from").input_value() == "2016-12-05"
    assert page.locator("#to").input_value() == "2016-12-20"
    assert page.evaluate("() => consoleMap.getZoom()") == 7
    expected = {
        "province": ["SY02"],
        "violation_type": ["airstrike"],
        "guarantor": ["RUS"],
        "since": ["2016-12-05"],
        "until": ["2016-12-21"],
    }
    assert tile_queries(watched) and all(q == expected for q in tile_queries(watched))
    shown = api_count(
        live_console.url,
        province="SY02",
        violation_type="airstrike",
        guarantor="RUS",
        since="2016-12-05",
        until="2016-12-21",
    )
    assert shown_count(page) == shown > 0

    # Every control has a name a screen reader can say.
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('input, select, button')]
            .filter((c) => !(c.labels?.length || c.getAttribute('aria-label')
                || c.textContent.trim() || c.title))
            .map((c) => c.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []

    # A phone: nothing wider than the screen, the map on top, the key box and filters usable.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    box = page.locator("#map").bounding_box()
    assert box["width"] >= 340 and box["height"] >= 300
    assert page.locator("#api-key").is_visible()
    page.locator("#violation_type").focus()
    page.keyboard.press("ArrowDown")  # a keyboard changes a filter too
    page.wait_for_function("() => !location.search.includes('violation_type=airstrike')")
