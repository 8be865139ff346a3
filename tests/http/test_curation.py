"""Party curation at run time: the unresolved names' worklist, curation acts (admin, audited,
refused whole), re-attribution jobs as of each event's date, digests revised with the
reason, and the theatre export/seed round trip."""

from __future__ import annotations

import csv
import datetime as dt
import io
from contextlib import nullcontext

import pytest
from sqlalchemy import text

from service.config import get_settings
from service.curation.service import run_pending
from service.digest.service import build_days
from service.party.service import PartyDirectory
from service.theatre.service import export_theatre, read_theatre_file, seed
from tests.http.report_helpers import assert_problem, auth, report_body
from tests.integration.test_incident_tallies import from_scratch, rollup, version

DAY_1, DAY_2 = dt.date(2017, 1, 10), dt.date(2017, 1, 12)
PARTY = {
    "id": "syrian-national-army",
    "name": "Syrian National Army",
    "side": "opposition",
    "guarantors": [{"id": "TUR"}],
    "coverage": [{"coverage": "covered"}],
    "reason": "regrouped opposition factions",
}
CURATED_TABLES = (
    "parties",
    "party_aliases",
    "party_guarantors",
    "party_coverage",
    "party_coalitions",
    "party_coalition_members",
    "curation_jobs",
    "audit_events",
)


@pytest.fixture
def admin(make_key):
    return make_key("admin", "curation admin")[1]


@pytest.fixture
def verifier(make_key):
    return make_key("verifier", "curation verifier")[1]


def run(db, **kwargs):
    """``ceasefire curation run``, in the test's transaction."""
    return run_pending(lambda: nullcontext(db), **kwargs)


def snapshot(db) -> dict[str, list]:
    return {
        t: [tuple(r) for r in db.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2"))]
        for t in CURATED_TABLES
    }


def post_report(client, secret, day: dt.date, **fields) -> dict:
    body = report_body(occurred_at=f"{day.isoformat()}T09:30:00+02:00", **fields)
    response = client.post("/v1/reports", json=body, headers=auth(secret))
    assert response.status_code == 201, response.text
    return response.json()


def row(db, table: str, id_: str):
    return db.execute(
        text(
            f"SELECT perpetrator_party_id, target_party_id, responsible_guarantors,"
            f" ceasefire_status FROM {table} WHERE id = :id"
        ),
        {"id": id_},
    ).one()


def worklist(client, secret, **params) -> dict[str, dict]:
    response = client.get("/v1/parties/unresolved", params=params, headers=auth(secret))
    assert response.status_code == 200, response.text
    return {entry["name"]: entry for entry in response.json()}


def test_sna_reports_are_worklisted_then_re_attributed_after_the_alias(
    client, db, reporter, admin, verifier, monitor
):
    _, secret = reporter
    first = post_report(client, secret, DAY_1, perpetrator="SNA", target="Syrian Arab Army")
    second = post_report(client, secret, DAY_2, perpetrator="sna")
    other = post_report(client, secret, DAY_2, perpetrator="Hezbollah")
    build_days(session=db, first=DAY_1, last=DAY_2)
    db.commit()

    # Unresolved, and on the worklist (one entry for both spellings).
    assert row(db, "reports", first["id"])[0] is None
    entry = worklist(client, verifier)["SNA"]
    assert entry["report_count"] == 2
    assert entry["spellings"] == ["SNA", "sna"]
    assert (entry["first_date"], entry["last_date"]) == (DAY_1.isoformat(), DAY_2.isoformat())
    assert entry["provinces"] == [{"pcode": "SY07", "name": "Idleb"}]
    assert set(entry["report_ids"]) == {first["id"], second["id"]}

    created = client.post("/v1/parties", json=PARTY, headers=auth(admin))
    assert created.status_code == 201, created.text
    added = client.post(
        f"/v1/parties/{PARTY['id']}/aliases", json={"alias": "SNA"}, headers=auth(admin)
    )
    assert added.status_code == 201, added.text
    act = added.json()
    assert act["summary"] == "alias 'SNA' was added to party syrian-national-army"
    job = client.get(act["job"], headers=auth(verifier)).json()
    assert (job["status"], job["phase"]) == ("pending", "reports")

    tallied = version(db)
    outcomes = run(db)
    assert [o.status for o in outcomes] == ["done", "done"]
    # The rollups follow (their triggers): exact, and the map data version moved.
    assert rollup(db) == from_scratch(db)
    assert version(db) > tallied
    assert ["TUR"] in [r[4] for r in rollup(db) if r[0] in (DAY_1, DAY_2)]

    for report in (first, second):
        assert row(db, "reports", report["id"]) == row(db, "incidents", report["incident_id"])
        party, _, guarantors, status = row(db, "incidents", report["incident_id"])
        assert (party, guarantors, status) == (PARTY["id"], ["TUR"], "violation")
    assert row(db, "incidents", other["incident_id"])[0] == "hezbollah"  # untouched
    assert "SNA" not in worklist(client, verifier)

    job = client.get(act["job"], headers=auth(verifier)).json()
    assert job["status"] == "done"
    assert (job["reports_changed"], job["incidents_changed"], job["days_affected"]) == (2, 2, 2)
    assert job["digest_revisions"] == 2

    # Every changed incident is audited, linked to the act's job.
    trail = client.get(
        "/v1/audit", params={"action": "incident.reattributed"}, headers=auth(admin)
    ).json()["items"]
    assert {e["entity_id"] for e in trail} == {first["incident_id"], second["incident_id"]}
    assert all(f"curation job {act['job_id']}" in e["reason"] for e in trail)
    assert trail[0]["after"]["perpetrator_party_id"] == PARTY["id"]

    # Each affected day's digest has a new revision saying why.
    for day in (DAY_1, DAY_2):
        digest = client.get(f"/v1/digests/daily/{day.isoformat()}", headers=monitor).json()
        assert digest["revision"] == 2
        reason = digest["changes"]["reason"]
        assert reason.startswith("re-attributed 1 incident after alias 'SNA' was added to party")
        assert digest["changes"]["summary"].startswith(reason)

    # Running again changes nothing.
    assert run(db) == []


def test_the_export_seed_round_trip_changes_nothing_and_seed_keeps_curation(
    client, db, admin, tmp_path
):
    assert client.post("/v1/parties", json=PARTY, headers=auth(admin)).status_code == 201
    for body in (
        {"alias": "SNA", "valid_from": "2017-12-30"},
        {"alias": "Turkish-backed Free Syrian Army", "valid_to": "2017-12-29"},
    ):
        response = client.post(f"/v1/parties/{PARTY['id']}/aliases", json=body, headers=auth(admin))
        assert response.status_code == 201, response.text
    client.post(
        "/v1/parties/free-syrian-army/aliases/Southern Front/end",
        json={"valid_to": "2018-07-31"},
        headers=auth(admin),
    )
    coalition = {"name": "National Front for Liberation", "members": ["ahrar-al-sham", PARTY["id"]]}
    assert client.post("/v1/coalitions", json=coalition, headers=auth(admin)).status_code == 201
    settings = get_settings()
    exported = tmp_path / "theatre.toml"
    exported.write_text(export_theatre(db, theatre_file=settings.theatre_file))
    parsed = read_theatre_file(exported)
    assert {c.name for c in parsed.coalitions} == {"National Front for Liberation"}

    before = snapshot(db)
    result = seed(db, theatre_file=exported, data_dir=settings.data_dir)
    assert (result.rows_written, result.rows_kept) == (0, 0)
    assert snapshot(db) == before
    # The original file does not undo the curation: it only adds what is missing.
    result = seed(db, theatre_file=settings.theatre_file, data_dir=settings.data_dir)
    assert result.rows_written == 0
    assert result.rows_kept == 1  # the file's open-ended "Southern Front", ended at run time
    assert snapshot(db) == before
    # And exporting again gives the same file.
    assert export_theatre(db, theatre_file=settings.theatre_file) == exported.read_text()


def test_an_alias_valid_from_a_date_does_not_re_attribute_earlier_events(
    client, db, reporter, admin
):
    _, secret = reporter
    before = post_report(client, secret, DAY_1, perpetrator="SNA")
    after = post_report(client, secret, DAY_2, perpetrator="SNA")
    client.post("/v1/parties", json=PARTY, headers=auth(admin))
    client.post(
        f"/v1/parties/{PARTY['id']}/aliases",
        json={"alias": "SNA", "valid_from": "2017-01-11"},
        headers=auth(admin),
    )
    run(db)
    assert row(db, "incidents", before["incident_id"])[0] is None
    assert row(db, "incidents", after["incident_id"])[0] == PARTY["id"]
    # Ending the alias before the second event undoes it there, and only there.
    ended = client.post(
        f"/v1/parties/{PARTY['id']}/aliases/sna/end",
        json={"valid_to": "2017-01-11"},
        headers=auth(admin),
    )
    assert ended.status_code == 200, ended.text
    run(db)
    assert row(db, "incidents", after["incident_id"])[0] is None


@pytest.mark.parametrize("sent", ["Front/North", "Front%2FNorth"])
def test_an_alias_with_a_slash_can_be_ended(client, db, admin, sent):
    client.post("/v1/parties", json=PARTY, headers=auth(admin))
    added = client.post(
        f"/v1/parties/{PARTY['id']}/aliases", json={"alias": "Front/North"}, headers=auth(admin)
    )
    assert added.status_code == 201, added.text
    ended = client.post(
        f"/v1/parties/{PARTY['id']}/aliases/{sent}/end",
        json={"valid_to": "2017-01-11"},
        headers=auth(admin),
    )
    assert ended.status_code == 200, ended.text
    party = client.get(f"/v1/parties/{PARTY['id']}").json()
    spans = {s["alias"].casefold(): s["valid_to"] for s in party["alias_validity"]}
    assert spans["front/north"] == "2017-01-11"


def test_a_job_interrupted_midway_and_run_again_gives_the_same_result(
    client, db, reporter, admin, verifier
):
    _, secret = reporter
    made = [
        post_report(client, secret, DAY_1 + dt.timedelta(days=i), perpetrator=name)
        for i, name in enumerate(["SNA", "SNA, Ahrar al-Sham", "Hezbollah", "SNA"])
    ]
    client.post("/v1/parties", json=PARTY, headers=auth(admin))
    job_id = client.post(
        f"/v1/parties/{PARTY['id']}/aliases", json={"alias": "SNA"}, headers=auth(admin)
    ).json()["job_id"]
    db.execute(text("UPDATE curation_jobs SET status = 'done' WHERE id < :id"), {"id": job_id})

    run(db, batch_size=1, max_batches=2)  # stopped, as a crash would
    job = client.get(f"/v1/curation/jobs/{job_id}", headers=auth(verifier)).json()
    assert (job["status"], job["phase"], job["reports_checked"]) == ("running", "reports", 2)
    run(db, batch_size=1)
    again = run(db)
    assert again == []
    job = client.get(f"/v1/curation/jobs/{job_id}", headers=auth(verifier)).json()
    assert job["status"] == "done"
    assert (job["reports_changed"], job["incidents_changed"]) == (3, 3)

    # The same as re-resolving every report from scratch with the curated directory.
    directory = PartyDirectory.load(db)
    for report in made:
        stored = db.execute(
            text("SELECT perpetrator_raw, occurred_at FROM reports WHERE id = :id"),
            {"id": report["id"]},
        ).one()
        expected = directory.resolve_actor(stored.perpetrator_raw, stored.occurred_at.date())
        assert row(db, "incidents", report["incident_id"])[0] == expected.id
    # The coalition string "SNA, Ahrar al-Sham": both covered, the first one decides.
    assert row(db, "incidents", made[1]["incident_id"])[0] == PARTY["id"]
    listed = client.get("/v1/curation/jobs", params={"status": "done"}, headers=auth(verifier))
    assert job_id in [j["id"] for j in listed.json()]


def test_the_coalition_rule_at_intake_and_in_the_resolver(client, db, reporter, admin):
    _, secret = reporter
    response = client.post(
        "/v1/coalitions",
        json={"name": "Joint Operations Room", "members": ["hezbollah", "russian-forces"]},
        headers=auth(admin),
    )
    assert response.status_code == 201, response.text
    joint = post_report(client, secret, DAY_1, perpetrator="Joint Operations Room")
    assert row(db, "reports", joint["id"])[:3] == ("hezbollah", "ahrar-al-sham", ["IRN", "RUS"])
    # An excluded member makes the whole excluded, and it is the one attributed.
    mixed = post_report(client, secret, DAY_1, perpetrator="Joint Operations Room, ISIS")
    assert row(db, "reports", mixed["id"])[0] == "islamic-state"
    assert row(db, "reports", mixed["id"])[3] == "excluded"
    assert client.get("/v1/coalitions").json() == [
        {"name": "Joint Operations Room", "members": ["hezbollah", "russian-forces"]}
    ]
    directory = PartyDirectory.load(db)
    assert directory.resolve_actor("joint operations room", DAY_1).guarantors == ("IRN", "RUS")
    resolved = client.get(
        "/v1/parties/resolve", params={"name": "Joint Operations Room", "date": "2017-01-10"}
    ).json()
    assert (resolved["id"], resolved["guarantors"]) == ("hezbollah", ["IRN", "RUS"])


def test_guarantor_curation_re_attributes_as_of_each_date(client, db, reporter, admin):
    _, secret = reporter
    early = post_report(client, secret, DAY_1, perpetrator="Hezbollah")
    late = post_report(client, secret, DAY_2, perpetrator="Hezbollah")
    ended = client.post(
        "/v1/parties/hezbollah/guarantors/IRN/end",
        json={"valid_to": "2017-01-11", "reason": "test"},
        headers=auth(admin),
    )
    assert ended.status_code == 200, ended.text
    response = client.post(
        "/v1/parties/hezbollah/guarantors",
        json={"guarantor": "rus", "valid_from": "2017-01-12"},
        headers=auth(admin),
    )
    assert response.status_code == 201, response.text
    run(db)
    assert row(db, "incidents", early["incident_id"])[2] == ["IRN"]
    assert row(db, "incidents", late["incident_id"])[2] == ["RUS"]
    actions = db.execute(
        text(
            "SELECT action, actor FROM audit_events WHERE entity_type = 'party'"
            " AND entity_id = 'hezbollah' ORDER BY id"
        )
    ).all()
    assert [a.action for a in actions] == ["party.guarantor_ended", "party.guarantor_set"]
    assert all(a.actor == "key:curation admin" for a in actions)


def test_the_worklist_as_csv(client, reporter, verifier):
    _, secret = reporter
    post_report(client, secret, DAY_1, perpetrator="Unknown Brigade", target="Another, Group")
    for kwargs in ({"params": {"format": "csv"}}, {"headers": {"Accept": "text/csv"}}):
        headers = {**auth(verifier), **kwargs.get("headers", {})}
        response = client.get(
            "/v1/parties/unresolved", params=kwargs.get("params"), headers=headers
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        names = {r["name"]: r for r in rows}
        assert names["Unknown Brigade"]["as_perpetrator"] == "1"
        assert names["Another, Group"]["as_target"] == "1"
        assert names["Unknown Brigade"]["province_pcodes"] == "SY07"
    refused = client.get(
        "/v1/parties/unresolved", headers={**auth(verifier), "Accept": "image/png"}
    )
    assert_problem(refused, 406)


@pytest.mark.parametrize(
    ("role", "status"), [(None, 401), ("reporter", 403), ("monitor", 403), ("verifier", 200)]
)
def test_access_per_role(client, make_key, role, status):
    headers = auth(make_key(role)[1]) if role else {}
    for path in ("/v1/parties/unresolved", "/v1/curation/jobs"):
        response = client.get(path, headers=headers)
        assert response.status_code == status, (path, response.text)
    writes = [
        ("/v1/parties", PARTY),
        ("/v1/parties/hezbollah/aliases", {"alias": "Party of God"}),
        ("/v1/parties/hezbollah/aliases/Hizbollah/end", {"valid_to": "2018-01-01"}),
        ("/v1/parties/hezbollah/guarantors", {"guarantor": "RUS"}),
        ("/v1/parties/hezbollah/guarantors/IRN/end", {"valid_to": "2018-01-01"}),
        ("/v1/coalitions", {"name": "X", "members": ["hezbollah", "russian-forces"]}),
    ]
    for path, body in writes:
        response = client.post(path, json=body, headers=headers)
        assert_problem(response, 401 if role is None else 403)


CONFLICTS = [
    ("/v1/parties", {**PARTY, "id": "hezbollah"}, 409, "exists already"),
    ("/v1/parties", {**PARTY, "aliases": ["SAA"]}, 409, "already names party"),
    ("/v1/parties", {**PARTY, "id": "Bad Slug"}, 422, "id"),
    ("/v1/parties", {**PARTY, "id": "unresolved"}, 422, "reserved"),
    ("/v1/parties", {**PARTY, "guarantors": [{"id": "XXX"}]}, 422, "XXX"),
    ("/v1/parties", {**PARTY, "name": "!!!"}, 422, "no letters"),
    ("/v1/parties", {**PARTY, "target_only": 0}, 422, "target_only"),
    ("/v1/parties/hezbollah/aliases", {"alias": "Hizballah"}, 409, "already names party hezbollah"),
    ("/v1/parties/hezbollah/aliases", {"alias": "SAA", "valid_from": "2017-01-01"}, 409, "syrian-government-forces"),
    ("/v1/parties/hezbollah/aliases", {"alias": "x", "valid_from": "2017-02-01", "valid_to": "2017-01-01"}, 422, "before"),
    ("/v1/parties/hezbollah/aliases", {"alias": "x", "valid_from": "0001-01-01"}, 422, "1900"),
    ("/v1/parties/hezbollah/aliases", {"alias": "x", "valid_from": 0}, 422, "YYYY-MM-DD"),
    ("/v1/parties/hezbollah/aliases", {"alias": "x", "valid_to": "2017-01-01T00:00:00Z"}, 422, "YYYY-MM-DD"),
    ("/v1/parties/hezbollah/aliases", {"alias": ""}, 422, "alias"),
    ("/v1/parties/hezbollah/aliases", {"alias": "x" * 301}, 422, "alias"),
    ("/v1/parties/hezbollah/aliases", {"alias": "x", "extra": 1}, 422, "extra"),
    ("/v1/parties/nobody/aliases", {"alias": "x"}, 404, "nobody"),
    ("/v1/parties/hezbollah/aliases/nothing/end", {"valid_to": "2018-01-01"}, 404, "no open-ended"),
    ("/v1/parties/hezbollah/aliases/Hizbollah/end", {"valid_to": "not a day"}, 422, "valid_to"),
    ("/v1/parties/hezbollah/guarantors", {"guarantor": "IRN"}, 409, "already answers"),
    ("/v1/parties/hezbollah/guarantors", {"guarantor": "ZZZ"}, 422, "ZZZ"),
    ("/v1/parties/hezbollah/guarantors/TUR/end", {"valid_to": "2018-01-01"}, 404, "no open-ended"),
    ("/v1/coalitions", {"name": "Y", "members": ["hezbollah"]}, 422, "members"),
    ("/v1/coalitions", {"name": "Y", "members": ["hezbollah", "hezbollah"]}, 422, "twice"),
    ("/v1/coalitions", {"name": "Y", "members": ["hezbollah", "nobody"]}, 422, "nobody"),
    ("/v1/coalitions", {"name": "ISIS", "members": ["hezbollah", "russian-forces"]}, 409, "islamic-state"),
    ("/v1/parties/hezbollah/aliases", {"alias": "a\x00b"}, 422, "NUL"),
    ("/v1/coalitions", {"name": "\x00", "members": ["hezbollah", "russian-forces"]}, 422, "NUL"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "status", "words"), CONFLICTS)
def test_bad_curation_is_refused_and_changes_nothing(client, db, admin, path, body, status, words):
    before = snapshot(db)
    response = client.post(path, json=body, headers=auth(admin))
    problem = assert_problem(response, status)
    assert words in response.text, problem
    assert snapshot(db) == before


def test_an_alias_over_another_period_is_allowed_and_a_clash_is_refused(client, db, admin):
    ok = client.post(
        "/v1/parties/hezbollah/aliases",
        json={"alias": "Zenki", "valid_from": "2030-01-01"},
        headers=auth(admin),
    )
    assert_problem(ok, 409)  # Zenki is open-ended for nour-al-din-al-zenki
    client.post("/v1/parties", json=PARTY, headers=auth(admin))
    for party, body in (
        (PARTY["id"], {"alias": "Army of the North", "valid_to": "2017-12-31"}),
        ("hezbollah", {"alias": "army of the north", "valid_from": "2018-01-01"}),
    ):
        response = client.post(f"/v1/parties/{party}/aliases", json=body, headers=auth(admin))
        assert response.status_code == 201, response.text
    clash = client.post(
        "/v1/parties/russian-forces/aliases",
        json={"alias": "Army of the North", "valid_from": "2017-06-01", "valid_to": "2018-06-01"},
        headers=auth(admin),
    )
    assert "overlapping" in assert_problem(clash, 409)["detail"]
    directory = PartyDirectory.load(db)
    assert directory.resolve("Army of the North", dt.date(2017, 6, 1)).id == PARTY["id"]
    assert directory.resolve("Army of the North", dt.date(2018, 6, 1)).id == "hezbollah"


@pytest.mark.parametrize("job", ["0", "-1", "x", "9" * 30])
def test_a_bad_job_id_is_4xx(client, verifier, job):
    response = client.get(f"/v1/curation/jobs/{job}", headers=auth(verifier))
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"
    assert_problem(client.get("/v1/curation/jobs/12345", headers=auth(verifier)), 404)


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "1001"}, {"limit": "x"}, {"format": "xml"}],
)
def test_bad_worklist_parameters_are_4xx(client, verifier, params):
    response = client.get("/v1/parties/unresolved", params=params, headers=auth(verifier))
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"
