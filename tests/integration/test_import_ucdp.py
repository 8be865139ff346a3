"""Importing a UCDP GED CSV through submit(): tricky rows, refusals, idempotent re-runs."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from service.errors import Invalid
from service.importer.service import UCDP_KEY_NAME, import_ucdp, verification_note
from service.importer.ucdp import client_report_id

HEADER = (
    "id,year,type_of_violence,side_a,side_b,source_article,source_office,source_headline,"
    "where_prec,where_coordinates,adm_1,latitude,longitude,date_prec,date_start,date_end,"
    "deaths_civilians,best\n"
)
# Written as raw CSV on purpose: quoted fields with line breaks, commas and doubled quotes.
ROWS = [
    # an ordinary state-based event after the ceasefire: a violation answered by RUS and IRN
    '900001,2017,1,Government of Syria,Syrian insurgents,"""SOHR,2017-01-10,Aerial bombardment'
    ' targets Idlib""",SOHR,Aerial bombardment targets Idlib,1,Idlib city,Idlib Governorate,'
    "35.93,36.63,1,2017-01-10,2017-01-10,1,3\n",
    # a headline spanning lines, and a coalition naming an excluded group
    '900002,2017,1,"Ahrar al-Sham, Jabhat Fateh al-Sham, Southern Front",Government of Syria,'
    '"""SOHR,2017-01-11,Shells target Khan Shaykhun""","SOHR;SOHR","Shells target\n'
    'Khan Shaykhun;\nclashes ""continue"" in the south",2,Khan Shaykhun town,'
    "Idlib Governorate,35.44,36.65,1,2017-01-11,2017-01-11,0,2\n",
    # a point in Cyprus
    "900003,2017,1,Government of Syria,IS,,SOHR,Clashes,1,Nicosia,,35.17,33.36,1,"
    "2017-01-12,2017-01-12,0,1\n",
    # a date that does not exist
    "900004,2017,1,Government of Syria,IS,,SOHR,Clashes,1,Palmyra,Homs Governorate,34.55,38.27,"
    "1,2017-02-30,2017-02-30,0,1\n",
    # only the governorate is known: the report names it and carries no point
    "900005,2017,2,Hawar Kilis Operations Room,IS,,SOHR,Advances near al-Bab,4,"
    "Hamah Governorate,Hamah Governorate,35.23,37.2,1,2017-01-13,2017-01-13,0,5\n",
    # only the country is known
    "900006,2017,1,Government of Syria,Syrian insurgents,,SOHR,Human losses,6,Syria,,35.0,38.0,1,"
    "2017-01-14,2017-01-14,0,2\n",
    # one-sided violence over four days
    "900007,2016,3,IS,Civilians,,Waha Report,IS executes five civilians,2,Raqqa town,"
    "Ar Raqqah Governorate,35.95,39.01,2,2016-11-02,2016-11-05,5,5\n",
    # more civilians than deaths in all
    "900008,2017,1,Government of Syria,Syrian insurgents,,SOHR,Shelling,1,Daraa city,"
    "Daraa Governorate,32.62,36.1,1,2017-01-15,2017-01-15,4,2\n",
]


def write_csv(tmp_path: Path, rows=ROWS, name="ged.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def imported(db):
    return {
        str(row.client_report_id): row
        for row in db.execute(
            text(
                "SELECT r.client_report_id, r.province_pcode, r.location_match, r.geo_precision,"
                " r.time_precision, r.occurred_at, r.violation_type, r.perpetrator_party_id,"
                " r.target_party_id, r.ceasefire_status, r.responsible_guarantors, r.description,"
                " r.killed, r.civilians_killed, r.sources, i.report_count"
                " FROM reports r JOIN api_keys k ON k.id = r.reporter_key_id"
                " JOIN incidents i ON i.id = r.incident_id WHERE k.name = :name"
            ),
            {"name": UCDP_KEY_NAME},
        )
    }


def test_import_stores_what_it_can_and_says_why_not_the_rest(db, tmp_path):
    seen = []
    summary = import_ucdp(session=db, path=write_csv(tmp_path), chunk_size=3, progress=seen.append)
    assert (summary.rows, summary.imported, summary.already_present) == (8, 4, 0)
    assert sum(seen) == 8 and seen == [3, 3, 2]
    assert dict(summary.refused) == {
        "location: the point is outside the area monitored": 1,
        "unreadable date_start": 1,
        "place too vague": 1,
        "invalid casualties": 1,
    }
    assert [i for i, _ in summary.examples["unreadable date_start"]] == ["900004"]
    assert dict(summary.unresolved) == {"Hawar Kilis Operations Room": 1}

    rows = imported(db)
    assert len(rows) == 4
    plain = rows[str(client_report_id("900001"))]
    assert (plain.province_pcode, plain.location_match, plain.geo_precision) == (
        "SY07",
        "inside",
        "settlement",
    )
    assert plain.occurred_at.isoformat() == "2017-01-10T10:00:00+00:00"  # noon in Damascus
    assert (plain.violation_type, plain.ceasefire_status) == ("airstrike", "violation")
    assert list(plain.responsible_guarantors) == ["IRN", "RUS"]
    assert plain.report_count == 1

    coalition = rows[str(client_report_id("900002"))]
    assert coalition.description == 'Shells target\nKhan Shaykhun;\nclashes "continue" in the south'
    assert coalition.perpetrator_party_id == "jabhat-fateh-al-sham"
    assert coalition.ceasefire_status == "excluded"
    assert (coalition.geo_precision, coalition.violation_type) == ("near", "shelling")
    assert coalition.sources == [
        {"kind": "media", "publisher": "SOHR"},
        {"kind": "media", "publisher": "SOHR"},
    ]

    province = rows[str(client_report_id("900005"))]
    assert (province.province_pcode, province.location_match) == ("SY05", "province_only")
    assert province.perpetrator_party_id is None and province.target_party_id == "islamic-state"

    one_sided = rows[str(client_report_id("900007"))]
    assert (one_sided.time_precision, one_sided.ceasefire_status) == ("week", "outside_period")
    assert (one_sided.killed, one_sided.civilians_killed) == (5, 5)
    assert one_sided.target_party_id == "civilians"


def test_importing_again_adds_nothing(db, tmp_path):
    path = write_csv(tmp_path)
    import_ucdp(session=db, path=path)
    reports_before = db.execute(text("SELECT count(*) FROM reports")).scalar_one()
    audit_before = db.execute(text("SELECT count(*) FROM audit_events")).scalar_one()

    again = import_ucdp(session=db, path=path)
    assert (again.imported, again.already_present, sum(again.refused.values())) == (0, 4, 4)
    assert dict(again.unresolved) == {"Hawar Kilis Operations Room": 1}
    assert db.execute(text("SELECT count(*) FROM reports")).scalar_one() == reports_before
    assert db.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == audit_before
    keys = db.execute(
        text("SELECT role FROM api_keys WHERE name = :name"), {"name": UCDP_KEY_NAME}
    ).scalars()
    assert list(keys) == ["reporter"]


def test_importing_again_maps_no_stored_record(db, tmp_path, monkeypatch):
    """A re-run finds what is stored by the records' fingerprints, before mapping: only the
    records refused the first time are mapped again."""
    from service.importer import service as importer

    path = write_csv(tmp_path)
    import_ucdp(session=db, path=path)
    mapped = []
    real_map = importer._map
    monkeypatch.setattr(
        importer,
        "_map",
        lambda header, record, **kw: mapped.append(record.number) or real_map(header, record, **kw),
    )
    again = import_ucdp(session=db, path=path)
    assert (again.imported, again.already_present, sum(again.refused.values())) == (0, 4, 4)
    assert dict(again.unresolved) == {"Hawar Kilis Operations Room": 1}
    assert len(mapped) == 4  # the refused ones only
    fingerprints = db.execute(text("SELECT count(*) FROM imported_records")).scalar_one()
    assert fingerprints == 4


def test_records_are_fingerprinted_as_they_stand_whatever_their_line_breaks(db, tmp_path):
    """Windows line breaks, a quoted field over several lines, no line break at the end: a
    re-run finds every stored record by its bytes and maps only the refused ones."""
    from service.importer import service as importer

    path = tmp_path / "crlf.csv"
    path.write_bytes((HEADER + "".join(ROWS)).rstrip("\n").replace("\n", "\r\n").encode())
    first = import_ucdp(session=db, path=path)
    assert (first.imported, sum(first.refused.values()), first.rows) == (4, 4, 8)
    mapped = []
    monkeypatch_map = importer._map
    importer._map = lambda header, record, **kw: (
        mapped.append(record.number) or monkeypatch_map(header, record, **kw)
    )
    try:
        again = import_ucdp(session=db, path=path)
    finally:
        importer._map = monkeypatch_map
    assert (again.imported, again.already_present, sum(again.refused.values())) == (0, 4, 4)
    assert again.rows == 8 and len(mapped) == 4


def test_a_stray_quote_in_an_unquoted_field_hides_no_record(db, tmp_path):
    """A quote inside an unquoted field (CSV reads it as it is) makes the records after it
    look like one quoted field to the fingerprinting: they are parsed and imported as ever,
    and a re-run replays them instead of skipping them."""
    stray = ROWS[2].replace("Clashes", 'Clashes with 5" guns')
    rows = [ROWS[0], stray, ROWS[7], ROWS[4]]
    path = write_csv(tmp_path, rows)
    first = import_ucdp(session=db, path=path)
    assert (first.rows, first.imported, sum(first.refused.values())) == (4, 2, 2)
    assert set(imported(db)) == {str(client_report_id(i)) for i in ("900001", "900005")}
    assert sorted(source for source, _ in sum(first.examples.values(), [])) == ["900003", "900008"]
    again = import_ucdp(session=db, path=path)
    assert (again.rows, again.imported, again.already_present) == (4, 0, 2)
    assert dict(again.refused) == dict(first.refused)


def test_the_id_column_may_stand_anywhere(db, tmp_path):
    """A GED file whose ``id`` is not the first column is fingerprinted by parsing each
    record: a re-run still finds them all stored."""
    columns = HEADER.strip().split(",")
    moved = columns[1:] + columns[:1]
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(moved)
    for record in csv.reader(io.StringIO("".join(ROWS), newline="")):
        writer.writerow(record[1:] + record[:1])
    path = tmp_path / "moved.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    first = import_ucdp(session=db, path=path)
    assert (first.imported, sum(first.refused.values())) == (4, 4)
    again = import_ucdp(session=db, path=path)
    assert (again.imported, again.already_present, sum(again.refused.values())) == (0, 4, 4)
    fingerprints = db.execute(text("SELECT count(*) FROM imported_records")).scalar_one()
    assert fingerprints == 4


def test_a_row_revised_after_its_fingerprint_was_kept_is_still_refused(db, tmp_path):
    import_ucdp(session=db, path=write_csv(tmp_path))
    import_ucdp(session=db, path=write_csv(tmp_path))  # fingerprints known, nothing mapped
    revised = [ROWS[0].replace("1,3\n", "1,4\n")]
    summary = import_ucdp(session=db, path=write_csv(tmp_path, revised, "revised.csv"))
    assert dict(summary.refused) == {
        "changed since it was imported (same id, different content)": 1
    }
    assert imported(db)[str(client_report_id("900001"))].killed == 3


def test_a_row_revised_at_the_source_is_refused_not_duplicated(db, tmp_path):
    import_ucdp(session=db, path=write_csv(tmp_path))
    revised = [ROWS[0].replace("1,3\n", "1,4\n")]  # UCDP revised the death toll
    summary = import_ucdp(session=db, path=write_csv(tmp_path, revised, "revised.csv"))
    assert summary.imported == 0
    assert dict(summary.refused) == {
        "changed since it was imported (same id, different content)": 1
    }
    assert imported(db)[str(client_report_id("900001"))].killed == 3


def test_a_duplicated_row_in_one_file_is_stored_once(db, tmp_path):
    summary = import_ucdp(session=db, path=write_csv(tmp_path, [ROWS[0], ROWS[0]]))
    assert (summary.imported, summary.already_present) == (1, 1)
    assert len(imported(db)) == 1


def test_a_revoked_importer_key_is_not_replaced(db, tmp_path):
    path = write_csv(tmp_path, ROWS[:1])
    import_ucdp(session=db, path=path)
    db.execute(
        text("UPDATE api_keys SET revoked_at = now() WHERE name = :name"), {"name": UCDP_KEY_NAME}
    )
    with pytest.raises(Invalid, match="revoked"):
        import_ucdp(session=db, path=path)


def test_a_file_that_is_not_a_ged_extract_is_refused_whole(db, tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("event_id,event_date,latitude\n1,2017-01-01,35\n", encoding="utf-8")
    with pytest.raises(Invalid, match="not a UCDP GED CSV"):
        import_ucdp(session=db, path=path)
    assert imported(db) == {}


def test_the_command_prints_a_summary(db, tmp_path, monkeypatch):
    # The command opens its own session; here it gets the test's, rolled back afterwards.
    from service import cli
    from service import db as service_db

    monkeypatch.setattr(service_db, "get_sessionmaker", lambda: lambda: db)
    result = CliRunner().invoke(
        cli.main, ["import", "ucdp", "--no-progress", str(write_csv(tmp_path))]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("8 rows in ") and lines[0].endswith(
        ": 4 imported, 0 already present, 4 refused"
    )
    assert any("refused      1  place too vague  (e.g. 900006:" in line for line in lines)
    assert "actor names left unresolved: 1 names in 1 reports" in lines
    assert "       1  Hawar Kilis Operations Room" in lines


# ---- --verified-by: the source vouches for its events ----

SOURCE = "UCDP GED"


def incidents_of_import(db):
    return {
        str(row.client_report_id): row
        for row in db.execute(
            text(
                "SELECT r.client_report_id, i.id, i.status, i.review_note, i.reviewed_at"
                " FROM reports r JOIN api_keys k ON k.id = r.reporter_key_id"
                " JOIN incidents i ON i.id = r.incident_id WHERE k.name = :name"
            ),
            {"name": UCDP_KEY_NAME},
        )
    }


def reviews(db):
    return db.execute(
        text(
            "SELECT entity_id, actor, before, after, reason FROM audit_events"
            " WHERE action = 'incident.reviewed' ORDER BY entity_id"
        )
    ).all()


def test_verified_by_verifies_each_imported_incident_audited(db, tmp_path):
    summary = import_ucdp(session=db, path=write_csv(tmp_path), verified_by=SOURCE)
    assert (summary.imported, summary.verified) == (4, 4)
    incidents = incidents_of_import(db)
    assert {i.status for i in incidents.values()} == {"verified"}
    assert {i.review_note for i in incidents.values()} == {verification_note(SOURCE)}
    assert all(i.reviewed_at is not None for i in incidents.values())
    events = reviews(db)
    assert sorted(e.entity_id for e in events) == sorted(str(i.id) for i in incidents.values())
    for event in events:
        assert event.before == {"status": "unverified", "review_note": None}
        assert event.after == {
            "status": "verified",
            "review_note": "verified by UCDP GED (imported)",
        }
        assert (event.actor, event.reason) == ("console", "verified by UCDP GED (imported)")


def test_verified_by_again_changes_nothing(db, tmp_path):
    path = write_csv(tmp_path)
    import_ucdp(session=db, path=path, verified_by=SOURCE)
    counts = "SELECT (SELECT count(*) FROM audit_events), (SELECT count(*) FROM reports),"
    counts += " (SELECT max(updated_at) FROM incidents)"
    before = db.execute(text(counts)).one()
    again = import_ucdp(session=db, path=path, verified_by=SOURCE)
    assert (again.imported, again.already_present, again.verified) == (0, 4, 0)
    assert db.execute(text(counts)).one() == before


def test_verified_by_never_overrides_a_verifier(db, tmp_path, make_key):
    from service.audit.service import Actor
    from service.incident.verification import review

    path = write_csv(tmp_path)
    import_ucdp(session=db, path=path)  # first without the flag: all unverified
    incidents = incidents_of_import(db)
    disputed = incidents[str(client_report_id("900001"))].id
    principal, _ = make_key("verifier")
    review(
        session=db,
        incident_id=disputed,
        status="disputed",
        note="the bombardment is not confirmed",
        actor=Actor(principal.key_id, "key:test verifier"),
    )
    summary = import_ucdp(session=db, path=path, verified_by=SOURCE)
    assert (summary.imported, summary.verified) == (0, 3)
    after = incidents_of_import(db)
    assert after[str(client_report_id("900001"))].status == "disputed"
    assert after[str(client_report_id("900001"))].review_note == "the bombardment is not confirmed"
    assert sorted(i.status for i in after.values()) == [
        "disputed",
        "verified",
        "verified",
        "verified",
    ]
    assert len(reviews(db)) == 4  # the verifier's and three by the import


def test_verified_incidents_are_public_and_show_their_source(db, tmp_path, client, make_key):
    import_ucdp(session=db, path=write_csv(tmp_path), verified_by=SOURCE)
    incident = incidents_of_import(db)[str(client_report_id("900001"))]
    _, admin = make_key("admin")
    headers = {"Authorization": f"Bearer {admin}"}
    shown = client.get(f"/v1/incidents/{incident.id}", headers=headers).json()
    assert (shown["status"], shown["review_note"]) == (
        "verified",
        "verified by UCDP GED (imported)",
    )
    history = client.get(
        "/v1/audit",
        params={"entity_type": "incident", "entity_id": str(incident.id)},
        headers=headers,
    ).json()
    assert [e["action"] for e in history["items"]] == ["incident.reviewed"]
    assert history["items"][0]["reason"] == "verified by UCDP GED (imported)"
    # The public map shows verified incidents: this one is there without a key.
    public = client.get("/collections/incidents/items")
    assert str(incident.id) in {f["id"] for f in public.json()["features"]}


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "UCDP\x00GED"])
def test_verified_by_needs_a_name(db, tmp_path, name):
    with pytest.raises(Invalid, match="--verified-by"):
        import_ucdp(session=db, path=write_csv(tmp_path), verified_by=name)
    assert imported(db) == {}


def test_the_command_verifies_by_the_named_source(db, tmp_path, monkeypatch):
    from service import cli
    from service import db as service_db

    monkeypatch.setattr(service_db, "get_sessionmaker", lambda: lambda: db)
    args = ["import", "ucdp", "--no-progress", "--verified-by", SOURCE, str(write_csv(tmp_path))]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 0, result.output
    assert "incidents verified by UCDP GED: 4" in result.output.splitlines()
    again = CliRunner().invoke(cli.main, args)
    assert "incidents verified by UCDP GED: 0" in again.output.splitlines()
    blank = CliRunner().invoke(cli.main, [*args[:4], " ", args[-1]])
    assert blank.exit_code != 0 and "--verified-by" in blank.output
