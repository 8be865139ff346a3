"""Optimistic concurrency on incidents: a strong ETag that moves on every write, 304 on
`If-None-Match`, and `If-Match` on review and merge (412 to a stale version, nothing
changed; RFC 9110's reading of `*`, lists, weak tags and garbage)."""

from __future__ import annotations

import uuid
from contextlib import nullcontext

import pytest
from sqlalchemy import text

from service.audit.service import CONSOLE
from service.curation.service import run_pending
from service.incident.verification import record_verdicts
from tests.http.report_helpers import assert_problem, auth, counts, submitted
from tests.http.test_curation import PARTY as CURATED_PARTY


@pytest.fixture
def verifier(make_key):
    return make_key("verifier", "verifier V")[1]


def read(client, secret, incident_id) -> tuple[dict, str]:
    response = client.get(f"/v1/incidents/{incident_id}", headers=auth(secret))
    assert response.status_code == 200, response.text
    return response.json(), response.headers["ETag"]


def tag_of(client, secret, incident_id) -> str:
    return read(client, secret, incident_id)[1]


def review(client, secret, incident_id, if_match=None, **body):
    headers = auth(secret) if if_match is None else auth(secret, **{"If-Match": if_match})
    return client.post(
        f"/v1/incidents/{incident_id}/review",
        json={"status": "verified", "note": "seen", **body},
        headers=headers,
    )


def state(db, incident_id) -> tuple:
    """What a refused write must leave as it was: the row, its pending review, the audit."""
    row = db.execute(
        text(
            "SELECT status, review_note, updated_at, report_count, merged_into_id"
            " FROM incidents WHERE id = :id"
        ),
        {"id": incident_id},
    ).one()
    pending = db.execute(
        text("SELECT updated_at FROM incident_pending_reviews WHERE incident_id = :id"),
        {"id": incident_id},
    ).first()
    return tuple(row), pending, counts(db)


# ---- the ETag ----


def test_an_incident_answers_a_strong_etag_and_304_when_it_is_held(client, reporter, verifier):
    _, secret = reporter
    incident_id = submitted(client, secret)["incident_id"]
    response = client.get(f"/v1/incidents/{incident_id}", headers=auth(verifier))
    tag = response.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"') and len(tag) > 10  # strong, not W/
    assert response.headers["Cache-Control"] == "private, no-cache"
    for held in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        again = client.get(
            f"/v1/incidents/{incident_id}", headers=auth(verifier, **{"If-None-Match": held})
        )
        assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", tag)
    other = client.get(
        f"/v1/incidents/{incident_id}", headers=auth(verifier, **{"If-None-Match": '"other"'})
    )
    assert other.status_code == 200 and other.json()["id"] == incident_id


def test_the_etag_moves_on_every_write_to_the_incident(client, db, reporter, verifier, make_key):
    _, secret = reporter
    _, other = make_key("reporter", "field reporter B")
    first = submitted(client, secret)
    incident_id = first["incident_id"]
    seen = [tag_of(client, verifier, incident_id)]

    def moved(why: str, incident=incident_id) -> None:
        tag = tag_of(client, verifier, incident)
        assert tag not in seen, why
        seen.append(tag)

    # A report joining an unverified incident (re-derived at once).
    submitted(client, other, incident_id=incident_id, casualties={"killed": 9})
    moved("a report joined")
    # Its report revised by its reporter (re-derivation).
    patched = client.patch(
        f"/v1/reports/{first['id']}", json={"description": "revised"}, headers=auth(secret)
    )
    assert patched.status_code == 200, patched.text
    moved("a report was revised")
    assert review(client, verifier, incident_id).status_code == 200
    moved("a verdict")
    # Reports joining a verified incident leave its published row alone; they are held.
    before = db.execute(
        text("SELECT updated_at FROM incidents WHERE id = :id"), {"id": incident_id}
    ).scalar_one()
    submitted(client, other, incident_id=incident_id, casualties={"killed": 20})
    moved("a corroboration was held for review")
    submitted(client, secret, incident_id=incident_id, casualties={"killed": 30})
    moved("the held proposal changed")
    after = db.execute(
        text("SELECT updated_at FROM incidents WHERE id = :id"), {"id": incident_id}
    ).scalar_one()
    assert after == before  # the published row untouched
    assert review(client, verifier, incident_id, accept_reports=False).status_code == 200
    moved("held reports declined")
    submitted(client, other, incident_id=incident_id, casualties={"killed": 40})
    moved("held again")
    assert review(client, verifier, incident_id, accept_reports=True).status_code == 200
    moved("held reports accepted")
    # An import's verdict (the one writer of verdicts), on an incident of its own.
    imported = submitted(client, secret, occurred_at="2017-01-12T09:30:00+02:00")["incident_id"]
    seen.append(tag_of(client, verifier, imported))
    record_verdicts(
        db,
        incident_ids=[uuid.UUID(imported)],
        status="verified",
        note="verified by a source",
        actor=CONSOLE,
        only_unverified=True,
    )
    moved("an import's verdict", imported)
    # A merge moves both incidents, and those merged earlier into the one merged away.
    earlier = submitted(client, secret)["incident_id"]
    victim = submitted(client, secret)["incident_id"]
    merged = client.post(
        f"/v1/incidents/{earlier}/merge", json={"into": victim}, headers=auth(verifier)
    )
    assert merged.status_code == 200, merged.text
    seen += [tag_of(client, verifier, earlier), tag_of(client, verifier, victim)]
    merged = client.post(
        f"/v1/incidents/{victim}/merge", json={"into": incident_id}, headers=auth(verifier)
    )
    assert merged.status_code == 200, merged.text
    assert merged.headers["ETag"] == tag_of(client, verifier, incident_id)
    moved("absorbed a merged incident")
    moved("merged away", victim)
    moved("its survivor changed", earlier)


def test_a_re_attribution_by_party_curation_moves_the_etag(
    client, db, reporter, verifier, make_key
):
    _, secret = reporter
    _, admin = make_key("admin", "curation admin")
    incident_id = submitted(client, secret, perpetrator="SNA")["incident_id"]
    tag = tag_of(client, verifier, incident_id)
    party = CURATED_PARTY  # the curation tests' party, which "SNA" names once aliased
    assert client.post("/v1/parties", json=party, headers=auth(admin)).status_code == 201
    added = client.post(
        f"/v1/parties/{party['id']}/aliases", json={"alias": "SNA"}, headers=auth(admin)
    )
    assert added.status_code == 201, added.text
    assert all(o.status == "done" for o in run_pending(lambda: nullcontext(db)))
    incident, new = read(client, verifier, incident_id)
    assert incident["perpetrator"]["party_id"] == party["id"]
    assert new != tag
    assert_problem(review(client, verifier, incident_id, if_match=tag), 412)


# ---- If-Match ----


def test_a_matching_if_match_writes_and_answers_the_new_etag(client, db, reporter, verifier):
    _, secret = reporter
    incident_id = submitted(client, secret)["incident_id"]
    tag = tag_of(client, verifier, incident_id)
    response = review(client, verifier, incident_id, if_match=tag)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "verified"
    new = response.headers["ETag"]
    assert new != tag and new == tag_of(client, verifier, incident_id)
    # The new ETag is good for the next decision; the old one no longer is.
    assert review(client, verifier, incident_id, if_match=new, status="disputed").status_code == 200
    assert_problem(review(client, verifier, incident_id, if_match=tag, status="rejected"), 412)


def test_a_stale_if_match_is_412_and_changes_nothing(client, db, reporter, verifier, make_key):
    _, secret = reporter
    _, rival = make_key("verifier", "verifier W")
    incident_id = submitted(client, secret)["incident_id"]
    stale = tag_of(client, verifier, incident_id)
    # Another verifier decides first.
    assert review(client, rival, incident_id, status="disputed", note="unsure").status_code == 200
    before = state(db, incident_id)
    problem = assert_problem(review(client, verifier, incident_id, if_match=stale), 412)
    assert problem["type"].endswith("/precondition-failed")
    assert "changed since you read it" in problem["detail"]
    assert "reload" in problem["detail"]
    assert state(db, incident_id) == before
    incident, _ = read(client, verifier, incident_id)
    assert (incident["status"], incident["review_note"]) == ("disputed", "unsure")


def test_a_stale_if_match_on_a_merge_is_412_and_moves_nothing(client, db, reporter, verifier):
    _, secret = reporter
    victim = submitted(client, secret)["incident_id"]
    survivor = submitted(client, secret)["incident_id"]
    stale = tag_of(client, verifier, victim)
    submitted(client, secret, incident_id=victim, casualties={"killed": 4})  # it changed
    before = state(db, victim), state(db, survivor)
    response = client.post(
        f"/v1/incidents/{victim}/merge",
        json={"into": survivor},
        headers=auth(verifier, **{"If-Match": stale}),
    )
    assert_problem(response, 412)
    assert (state(db, victim), state(db, survivor)) == before
    fresh = tag_of(client, verifier, victim)
    response = client.post(
        f"/v1/incidents/{victim}/merge",
        json={"into": survivor},
        headers=auth(verifier, **{"If-Match": fresh}),
    )
    assert response.status_code == 200, response.text
    assert response.json()["report_count"] == 3
    assert response.headers["ETag"] == tag_of(client, verifier, survivor)


# (header value, or a function of the current tag) -> expected status
IF_MATCH_CASES = {
    "star": ("*", 200),
    "the current tag": (lambda t: t, 200),
    "a list holding it": (lambda t: f'"stale", {t}', 200),
    "a list with empty elements": (lambda t: f' ,, "x" ,{t},', 200),
    "its weak form": (lambda t: f"W/{t}", 412),
    "another tag": ('"0000"', 412),
    "an empty tag": ('""', 412),
    "a tag with a comma inside": ('"a,b"', 412),
    "many tags": (", ".join(f'"{n}"' for n in range(200)), 412),
    "unquoted": ("abc", 400),
    "unterminated": ('"abc', 400),
    "star in a list": (lambda t: f"*, {t}", 400),
    "only commas": (", ,", 400),
    "whitespace": (" ", 400),
    "a lowercase weak prefix": (lambda t: f"w/{t}", 400),
    "text after a tag": (lambda t: f"{t} x", 400),
    "a DQUOTE inside": ('"a"b"', 400),
}


@pytest.mark.parametrize("case", list(IF_MATCH_CASES))
def test_if_match_is_read_as_rfc_9110_says(client, db, reporter, verifier, case):
    _, secret = reporter
    incident_id = submitted(client, secret)["incident_id"]
    tag = tag_of(client, verifier, incident_id)
    value, expected = IF_MATCH_CASES[case]
    header = value(tag) if callable(value) else value
    before = state(db, incident_id)
    response = review(client, verifier, incident_id, if_match=header)
    if expected == 200:
        assert response.status_code == 200, response.text
        return
    problem = assert_problem(response, expected)
    assert state(db, incident_id) == before
    if expected == 400:
        assert problem["detail"].startswith("If-Match:")
    elif "weak" in case:
        assert "weak" in problem["detail"]


def test_several_if_match_lines_are_one_list(client, reporter, verifier):
    _, secret = reporter
    incident_id = submitted(client, secret)["incident_id"]
    tag = tag_of(client, verifier, incident_id)
    response = client.post(
        f"/v1/incidents/{incident_id}/review",
        json={"status": "verified"},
        headers=[
            ("Authorization", f"Bearer {verifier}"),
            ("If-Match", '"stale"'),
            ("If-Match", tag),
        ],
    )
    assert response.status_code == 200, response.text


def test_a_missing_incident_is_404_and_a_stale_view_of_a_merged_one_412(
    client, db, reporter, verifier
):
    """A missing incident is a 404 whatever the condition (RFC 9110 13.2.1). An incident
    merged since the verifier read it is a 412 (reload, and see it merged), one read as
    merged a 409, as without the condition."""
    _, secret = reporter
    missing = review(client, verifier, uuid.uuid4(), if_match="*")
    assert_problem(missing, 404)
    a = submitted(client, secret)["incident_id"]
    b = submitted(client, secret)["incident_id"]
    stale = tag_of(client, verifier, a)
    client.post(f"/v1/incidents/{a}/merge", json={"into": b}, headers=auth(verifier))
    assert_problem(review(client, verifier, a, if_match=stale), 412)
    assert_problem(review(client, verifier, a, if_match="*"), 409)
    assert_problem(review(client, verifier, a, if_match=tag_of(client, verifier, a)), 409)
    # Without If-Match a verdict is unconditional, as before.
    assert review(client, verifier, b, status="disputed").status_code == 200
