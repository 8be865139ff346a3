"""The console's digest page in headless Chromium: the numbers shown are the JSON's of that
day (for the caller's view), previous/next navigate, downloads name the API's URLs (see
conftest.py for the data and the watch kept on every page)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from service.digest.compute import FIGURES

READY = "() => document.body.dataset.digest === 'ready'"
# December is imported verified (the public view shows it), January unverified (only keys).
DAY = "2017-01-19"


def shown(value) -> str:  # noqa: ANN001
    """A figure as the page keeps it in data-value (withheld: empty)."""
    return "" if value is None else str(value)


def day_json(live_console, day: str, key: str | None = None, **query: str) -> dict:  # noqa: ANN001
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = f"{live_console.url}/v1/digests/daily/{day}"
    response = httpx.get(url, headers=headers, params=query)
    response.raise_for_status()
    return response.json()


def value(page, row: str, field: str) -> str:  # noqa: ANN001
    return page.locator(f"{row} [data-field='{field}']").get_attribute("data-value")


def assert_same_numbers(page, doc: dict) -> None:  # noqa: ANN001
    assert page.locator("#summary").inner_text() == doc["summary"]
    for name in FIGURES:
        cell = f"#totals-table tr[data-figure='{name}']"
        assert value(page, cell, "today") == shown(doc["totals"][name]), name
    for row in doc["by_guarantor"]:
        selector = f"#guarantor-table tr[data-guarantor='{row['guarantor'] or 'none'}']"
        for name in ("violations", "verified", "killed"):
            assert value(page, selector, name) == shown(row[name]), (row["guarantor"], name)
        compliance = row["compliance"]
        rate = value(page, selector, "compliance")
        assert (float(rate) if rate else None) == (compliance and compliance["rate"])
    assert page.locator("#province-table tbody tr").count() == len(doc["by_province"])
    for row in doc["by_province"]:
        selector = f"#province-table tr[data-pcode='{row['pcode']}']"
        for name in ("incidents", "violations", "verified", "killed"):
            assert value(page, selector, name) == shown(row[name]), (row["pcode"], name)
        # The choropleth has every governorate, filled by its violations.
        assert page.locator(f"svg.choropleth path[data-pcode='{row['pcode']}']").count() == 1


@pytest.mark.parametrize("role", [None, "monitor"])
def test_the_digest_page_shows_the_numbers_of_the_days_json(open_page, live_console, role):
    key = live_console.key(role) if role else None
    watched = open_page(f"/console/digest?day={DAY}", key=key)
    page = watched.page
    page.wait_for_function(READY, timeout=30_000)
    doc = day_json(live_console, DAY, key)
    assert ("disclosure" in doc and doc["disclosure"] is not None) == (role is None)
    assert_same_numbers(page, doc)
    # The day before, from the range endpoint, beside the day's figures.
    before = day_json(live_console, "2017-01-18", key)
    cell = "#totals-table tr[data-figure='violations']"
    assert value(page, cell, "day-before") == shown(before["totals"]["violations"])
    # The governorates' Arabic names, right to left beside the English ones.
    arabic = page.locator("#province-table [lang='ar'][dir='rtl']")
    assert arabic.count() > 0


def test_previous_and_next_navigate_and_downloads_name_the_api(open_page, live_console):
    watched = open_page(f"/console/digest?day={DAY}")
    page = watched.page
    page.wait_for_function(READY, timeout=30_000)
    doc = day_json(live_console, DAY)
    links = {(link["rel"], link["type"]): link["href"] for link in doc["links"]}

    downloads = {
        a.get_attribute("data-format"): a.get_attribute("href")
        for a in page.locator("#downloads a").all()
    }
    base = f"/v1/digests/daily/{DAY}"
    assert downloads["json"] == base
    assert downloads["csv"] == f"{base}?format=csv"
    assert downloads["md"] == f"{base}?format=md"
    assert downloads["atom"] == "/v1/digests/feed.atom"
    assert links[("alternate", "text/csv")].endswith(downloads["csv"])
    for fmt, media in (("csv", "text/csv"), ("md", "text/markdown"), ("atom", "atom+xml")):
        answer = httpx.get(live_console.url + downloads[fmt])
        assert answer.status_code == 200 and media in answer.headers["content-type"], fmt

    prev_day = links[("prev", "application/json")].rsplit("/", 1)[1]
    next_day = links[("next", "application/json")].rsplit("/", 1)[1]
    page.click("#prev-day")
    page.wait_for_function(f"() => document.getElementById('digest')?.dataset.day === '{prev_day}'")
    assert page.url.endswith(f"?day={prev_day}")
    assert_same_numbers(page, day_json(live_console, prev_day))
    page.click("#next-day")
    page.wait_for_function(f"() => document.getElementById('digest')?.dataset.day === '{DAY}'")
    assert page.locator(f"#next-day[href='?day={next_day}']").count() == 1
    # The calendar links the days that have a digest and marks this one.
    assert page.locator("#calendar [aria-current='date']").inner_text() == DAY[-2:].lstrip("0")
    assert page.locator("#calendar a").count() == 31  # January 2017: every day has one


def test_a_governorate_narrows_the_page_as_the_api_does(open_page, live_console):
    key = live_console.key("monitor")
    watched = open_page(f"/console/digest?day={DAY}", key=key)
    page = watched.page
    page.wait_for_function(READY, timeout=30_000)
    page.locator("#province-table tr[data-pcode='SY02'] th a").click()
    page.wait_for_selector("#whole-theatre")
    page.wait_for_function(READY, timeout=30_000)
    assert page.url.endswith(f"?day={DAY}&province=SY02")
    narrowed = day_json(live_console, DAY, key, province="SY02")
    assert narrowed["province"]["pcode"] == "SY02"
    assert_same_numbers(page, narrowed)
    # Downloads and the next day keep the governorate.
    assert page.locator("#downloads a[data-format='csv']").get_attribute("href") == (
        f"/v1/digests/daily/{DAY}?province=SY02&format=csv"
    )
    assert "province=SY02" in page.locator("#next-day").get_attribute("href")

    # Signed in, a download carries the key in its header (never the URL): the full view.
    with page.expect_download() as download:
        page.locator("#downloads a[data-format='csv']").click()
    saved = Path(download.value.path()).read_bytes()
    expected = httpx.get(
        f"{live_console.url}/v1/digests/daily/{DAY}",
        params={"province": "SY02", "format": "csv"},
        headers={"Authorization": f"Bearer {key}"},
    ).content
    assert saved == expected
    assert not watched.urls(key)
