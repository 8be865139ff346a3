"""The verifier's queue in headless Chromium: a public visit gets a clear message; a
verifier verifies an incident and the public view then has it; two verifiers racing on one
incident get one success and one clear conflict message (see conftest.py for the data and
the watch kept on every page)."""

from __future__ import annotations

import httpx

from tests.live import create_key

READY = "() => document.body.dataset.queue === 'ready'"
GATED = "() => document.body.dataset.queue === 'gated'"
FIRST = "#queue-list .queue-item"


def opened_queue(open_page, key: str):  # noqa: ANN001, ANN201
    watched = open_page("/console/queue", key=key)
    watched.page.wait_for_function(READY, timeout=30_000)
    return watched


def public_feature(live_console, incident_id: str) -> int:  # noqa: ANN001
    """The public (no key) map source's answer for one incident: 200 once it is verified."""
    return httpx.get(f"{live_console.url}/collections/incidents/items/{incident_id}").status_code


def test_a_public_visit_gets_a_clear_message(open_page):
    watched = open_page("/console/queue")
    page = watched.page
    page.wait_for_function(GATED, timeout=30_000)
    assert "verifier and admin keys" in page.locator("#gate-message").inner_text()
    assert page.locator("#queue").is_hidden()
    assert not watched.urls("/v1/review-queue")


def test_a_verifier_verifies_an_incident_and_the_public_then_sees_it(open_page, live_console):
    page = opened_queue(open_page, live_console.key("verifier")).page
    first = page.locator(FIRST).first
    incident_id = first.get_attribute("data-id")
    assert first.get_attribute("aria-current") == "true"
    assert public_feature(live_console, incident_id) == 404  # unverified: not public
    # The selected incident and its candidates are drawn on the queue's map, those with a
    # point (the first in the queue's order varies: its ties are broken by random ids).
    item = httpx.get(
        f"{live_console.url}/v1/review-queue",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {live_console.key('verifier')}"},
    ).json()["items"][0]
    assert item["incident"]["id"] == incident_id
    kinds = sorted(
        ({"incident"} if item["incident"]["location"] else set())
        | ({"candidate"} if any(c["incident"]["location"] for c in item["candidates"]) else set())
    )
    page.wait_for_function(
        "(kinds) => window.queueMap && window.queueMap.getLayer('points') && JSON.stringify("
        "[...new Set(window.queueMap.queryRenderedFeatures({layers: ['points']})"
        ".map((f) => f.properties.kind))].sort()) === JSON.stringify(kinds)",
        arg=kinds,
        timeout=60_000,  # a software-rendered map on a shared machine can be slow
    )

    # By keyboard, as the page documents: n (the note), Escape, v (verify).
    page.locator("body").press("n")
    page.keyboard.type("checked against two sources")
    page.keyboard.press("Escape")
    page.keyboard.press("v")
    page.wait_for_function(
        "() => document.getElementById('notice').textContent.startsWith('Verified')"
    )
    assert page.locator(f"#item-{incident_id}").count() == 0
    # Focus moved on to the next incident, now selected.
    assert page.evaluate("document.activeElement.getAttribute('aria-current')") == "true"

    assert public_feature(live_console, incident_id) == 200
    detail = httpx.get(
        f"{live_console.url}/v1/incidents/{incident_id}",
        headers={"Authorization": f"Bearer {live_console.key('verifier')}"},
    ).json()
    assert detail["status"] == "verified"
    assert detail["review_note"] == "checked against two sources"


def test_two_verifiers_racing_on_one_incident_get_one_success_and_one_conflict(
    open_page, live_console
):
    other = create_key(live_console.database_url, "verifier", "browser second verifier")
    first = opened_queue(open_page, live_console.key("verifier"))
    second = opened_queue(open_page, other)
    incident_id = first.page.locator(FIRST).first.get_attribute("data-id")
    assert second.page.locator(FIRST).first.get_attribute("data-id") == incident_id

    first.page.locator("#act-verified").click()
    first.page.wait_for_function(
        "() => document.getElementById('notice').textContent.startsWith('Verified')"
    )
    second.page.locator("#act-disputed").click()  # with the ETag it loaded: now stale
    conflict = second.page.locator("#problem[data-conflict='true'][data-reloaded='true']")
    conflict.wait_for(timeout=10_000)
    text = conflict.inner_text()
    assert "Someone else changed this incident" in text
    assert "reload" in text
    # Reloaded: it was verified meanwhile, so it has left the second verifier's queue.
    assert "now verified" in text
    assert second.page.locator(f"#item-{incident_id}").count() == 0

    detail = httpx.get(
        f"{live_console.url}/v1/incidents/{incident_id}",
        headers={"Authorization": f"Bearer {other}"},
    ).json()
    assert detail["status"] == "verified"  # the loser changed nothing
    # The browser logs the 412 it was answered; that one is expected, nothing else is.
    second.errors[:] = [e for e in second.errors if "status of 412" not in e]


def test_a_verifier_merges_an_incident_into_a_chosen_candidate(open_page, live_console):
    key = live_console.key("verifier")
    page = opened_queue(open_page, key).page
    items = page.locator(FIRST)
    position = next(
        (i for i in range(items.count()) if "candidate" in items.nth(i).inner_text()), None
    )
    assert position is not None, "no incident of the first page has a candidate"
    incident_id = items.nth(position).get_attribute("data-id")
    for _ in range(position):
        page.keyboard.press("j")
    assert items.nth(position).get_attribute("aria-current") == "true"
    page.keyboard.press("m")  # nothing chosen yet: a message, no request
    assert "choose the candidate" in page.locator("#problem").inner_text()
    page.keyboard.press("1")
    into = page.locator("input[name='merge-into']:checked").get_attribute("value")
    page.keyboard.press("m")
    page.wait_for_function(
        "() => document.getElementById('notice').textContent.startsWith('Merged')"
    )
    merged = httpx.get(
        f"{live_console.url}/v1/incidents/{incident_id}",
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    assert merged["status"] == "merged"
    assert merged["merged_into_id"] == into
