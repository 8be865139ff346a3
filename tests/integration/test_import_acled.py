"""Importing an ACLED export through submit() and the revision path: the documented counts,
re-imports that store nothing, rows ACLED revised later."""

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from service.errors import Invalid
from service.importer.acled import client_report_id
from service.importer.versioned import ACLED_KEY_NAME, import_acled

FIXTURES = Path(__file__).parent.parent / "fixtures" / "acled"
EVENTS = FIXTURES / "events.csv"

# What tests/fixtures/acled/events.csv gives (its rows are described in its README).
REFUSED = {
    "date too vague": 1,  # SYR90010: time_precision 3, only the month
    "unreadable event_date": 1,  # SYR90011: 30 February
    "unreadable latitude": 1,  # SYR90012
    "unknown geo_precision": 1,  # SYR90013: 4
    "unknown event type": 1,  # SYR90014: "Drone swarm"
    "location: the point is outside the area monitored": 1,  # SYR90015: Nicosia
    "place too vague": 1,  # SYR90018: geo_precision 3 and no admin1
    "wrong number of fields": 1,  # SYR90021: a truncated record
}
SKIPPED = {
    "not a violation: Strategic developments / Agreement": 1,
    "not a violation: Protests / Peaceful protest": 1,
    "not a violation: Riots / Mob violence": 1,
}
IMPORTED = ["SYR90001", "SYR90002", "SYR90003", "SYR90004", "SYR90005", "SYR90006"]
IMPORTED += ["SYR90016", "SYR90019", "SYR90020"]


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["timestamp"]]


def write(tmp_path: Path, rows: list[dict[str, str]], name: str = "acled.csv") -> Path:
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def event(event_id: str, **changes: str) -> dict[str, str]:
    [row] = [r for r in rows_of(EVENTS) if r["event_id_cnty"] == event_id]
    return {**row, **changes}


def stored(db) -> dict[str, object]:
    """The importer's reports by ACLED event id."""
    ids = {str(client_report_id(f"SYR900{n:02d}")): f"SYR900{n:02d}" for n in range(1, 22)}
    found = db.execute(
        text(
            "SELECT r.id, r.client_report_id, r.province_pcode, r.location_match,"
            " r.geo_precision, r.time_precision, r.occurred_at, r.violation_type,"
            " r.perpetrator_raw, r.perpetrator_party_id, r.target_party_id, r.killed,"
            " r.civilians_killed, r.description, r.sources, r.revision, r.incident_id,"
            " i.status, i.killed AS incident_killed"
            " FROM reports r JOIN api_keys k ON k.id = r.reporter_key_id"
            " JOIN incidents i ON i.id = r.incident_id WHERE k.name = :name"
        ),
        {"name": ACLED_KEY_NAME},
    )
    return {ids[str(row.client_report_id)]: row for row in found}


def counts(db):
    return db.execute(
        text(
            "SELECT (SELECT count(*) FROM reports), (SELECT count(*) FROM report_revisions),"
            " (SELECT count(*) FROM audit_events), (SELECT count(*) FROM incidents)"
        )
    ).one()


def test_the_fixture_gives_the_documented_counts(db):
    seen = []
    summary = import_acled(session=db, path=EVENTS, chunk_size=7, progress=seen.append)
    assert (summary.rows, summary.imported, summary.revised, summary.already_present) == (
        20,
        9,
        0,
        0,
    )
    assert seen == [7, 7, 6]
    assert dict(summary.refused) == REFUSED
    assert dict(summary.skipped) == SKIPPED
    assert [i for i, _ in summary.examples["date too vague"]] == ["SYR90010"]
    assert summary.unresolved["Military Forces of Syria (2000-)"] == 4

    reports = stored(db)
    assert sorted(reports) == IMPORTED
    clash = reports["SYR90001"]
    assert (clash.violation_type, clash.geo_precision, clash.time_precision) == (
        "ground_assault",
        "settlement",
        "day",
    )
    assert clash.occurred_at.isoformat() == "2017-01-10T10:00:00+00:00"  # noon in Damascus
    assert (clash.province_pcode, clash.location_match) == ("SY07", "inside")
    assert clash.perpetrator_party_id == "syrian-government-forces"
    assert clash.target_party_id == "ahrar-al-sham"
    assert clash.sources == [
        {"kind": "media", "publisher": "Syrian Observatory for Human Rights"},
        {"kind": "media", "publisher": "SANA"},
        {"kind": "monitor", "publisher": "ACLED SYR90001 (timestamp 1700000000)"},
    ]
    barrels = reports["SYR90002"]
    assert (barrels.violation_type, barrels.geo_precision, barrels.time_precision) == (
        "barrel_bomb",
        "near",
        "week",
    )
    region = reports["SYR90003"]  # geo_precision 3: the admin1 area, no point
    assert (region.violation_type, region.geo_precision) == ("missile", "province")
    assert (region.province_pcode, region.location_match) == ("SY12", "province_only")
    sniper = reports["SYR90004"]
    assert (sniper.violation_type, sniper.killed, sniper.civilians_killed) == ("sniper", 1, 1)
    assert sniper.description.endswith("\n\nAssociated with actor 2: Farmers (Syria)")
    assert reports["SYR90006"].violation_type == "detention"  # Strategic developments: Arrests
    assert reports["SYR90016"].occurred_at.date().isoformat() == "2017-01-23"  # 23 January 2017
    assert reports["SYR90019"].violation_type == "chemical"


def test_importing_again_stores_nothing(db):
    import_acled(session=db, path=EVENTS)
    before = counts(db)
    again = import_acled(session=db, path=EVENTS)
    assert (again.imported, again.revised, again.already_present) == (0, 0, 9)
    assert dict(again.refused) == REFUSED and dict(again.skipped) == SKIPPED
    assert again.unresolved["Military Forces of Syria (2000-)"] == 4
    assert counts(db) == before
    keys = db.execute(
        text("SELECT role FROM api_keys WHERE name = :name"), {"name": ACLED_KEY_NAME}
    ).scalars()
    assert list(keys) == ["reporter"]


def revised_file(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        [
            # ACLED raised the toll and named another actor: a newer timestamp
            event(
                "SYR90001",
                fatalities="5",
                actor2="Hayat Tahrir al-Sham",
                timestamp="1700100000",
            ),
            event("SYR90004"),  # the same version: a replay
            event("SYR90005", fatalities="9", timestamp="1690000000"),  # an older version
        ],
        "revised.csv",
    )


def test_a_row_with_a_newer_timestamp_revises_its_report(db, tmp_path):
    import_acled(session=db, path=EVENTS)
    first = stored(db)
    before = counts(db)

    summary = import_acled(session=db, path=revised_file(tmp_path))
    assert (summary.imported, summary.revised, summary.already_present) == (0, 1, 1)
    assert dict(summary.skipped) == {"older than the stored version": 1}
    assert summary.examples["older than the stored version"] == [
        ("SYR90005", "version 1690000000 < stored 1700000000")
    ]
    assert not summary.refused

    after = stored(db)
    clash = after["SYR90001"]
    assert clash.id == first["SYR90001"].id and clash.incident_id == first["SYR90001"].incident_id
    assert (clash.revision, clash.killed, clash.incident_killed) == (2, 5, 5)
    assert clash.target_party_id == "hayat-tahrir-al-sham"
    assert clash.sources[-1] == {
        "kind": "monitor",
        "publisher": "ACLED SYR90001 (timestamp 1700100000)",
    }
    assert after["SYR90005"].killed == first["SYR90005"].killed  # the older row changed nothing
    # One revision kept and audited; nothing else written.
    reports, revisions, audit, incidents = counts(db)
    assert (reports, incidents) == (before[0], before[3])
    assert revisions == before[1] + 1
    revised = db.execute(
        text(
            "SELECT reason, before, after FROM audit_events WHERE action = 'report.revised'"
            " AND entity_id = :id"
        ),
        {"id": str(clash.id)},
    ).one()
    assert revised.reason == "ACLED revised SYR90001: version 1700000000 -> 1700100000"
    assert (revised.before["casualties"]["killed"], revised.after["casualties"]["killed"]) == (3, 5)
    assert audit > before[2]

    # The same revised file again: now a replay.
    again = import_acled(session=db, path=revised_file(tmp_path))
    assert (again.revised, again.already_present, sum(again.skipped.values())) == (0, 2, 1)
    assert stored(db)["SYR90001"].revision == 2


def test_a_revision_never_overrides_a_verifier(db, tmp_path, make_key):
    from service.audit.service import Actor
    from service.incident.verification import review

    import_acled(session=db, path=EVENTS)
    incident_id = stored(db)["SYR90001"].incident_id
    principal, _ = make_key("verifier")
    review(
        session=db,
        incident_id=incident_id,
        status="verified",
        note="confirmed by our field team: three killed",
        actor=Actor(principal.key_id, "key:test verifier"),
    )
    db.commit()
    summary = import_acled(session=db, path=revised_file(tmp_path))
    assert summary.revised == 0
    assert dict(summary.refused) == {"revision held: the report's incident is verified": 1}
    assert summary.examples["revision held: the report's incident is verified"][0][0] == "SYR90001"
    clash = stored(db)["SYR90001"]
    assert (clash.revision, clash.killed, clash.status) == (1, 3, "verified")
    assert clash.sources[-1]["publisher"] == "ACLED SYR90001 (timestamp 1700000000)"


def test_rows_of_one_event_in_one_file_apply_the_newest(db, tmp_path):
    newer = event("SYR90001", fatalities="5", timestamp="1700100000")
    path = write(tmp_path, [event("SYR90001"), newer, event("SYR90001"), newer])
    summary = import_acled(session=db, path=path)
    assert (summary.imported, summary.already_present) == (1, 1)
    assert dict(summary.skipped) == {"older than another row of the same event in the file": 2}
    clash = stored(db)["SYR90001"]
    assert (clash.revision, clash.killed) == (1, 5)


def test_verified_by_verifies_and_then_holds_revisions(db, tmp_path):
    summary = import_acled(session=db, path=EVENTS, verified_by="ACLED")
    assert (summary.imported, summary.verified) == (9, 9)
    assert {r.status for r in stored(db).values()} == {"verified"}
    # The import's own verdict is a verdict: ACLED's later correction waits for a verifier.
    later = import_acled(session=db, path=revised_file(tmp_path), verified_by="ACLED")
    assert (later.revised, later.verified) == (0, 0)
    assert dict(later.refused) == {"revision held: the report's incident is verified": 1}


def test_a_revision_of_an_unverified_incident_is_verified_with_verified_by(db, tmp_path):
    import_acled(session=db, path=EVENTS)
    summary = import_acled(session=db, path=revised_file(tmp_path), verified_by="ACLED")
    assert (summary.revised, summary.already_present, summary.verified) == (1, 1, 2)
    assert stored(db)["SYR90001"].status == "verified"


def test_a_file_that_is_not_an_acled_export_is_refused_whole(db, tmp_path):
    path = tmp_path / "ged.csv"
    path.write_text("id,date_start,latitude\n1,2017-01-01,35\n", encoding="utf-8")
    with pytest.raises(Invalid, match="not an ACLED export"):
        import_acled(session=db, path=path)
    assert stored(db) == {}


def test_the_command_prints_a_summary(db, monkeypatch, tmp_path):
    from service import cli
    from service import db as service_db

    monkeypatch.setattr(service_db, "get_sessionmaker", lambda: lambda: db)
    result = CliRunner().invoke(cli.main, ["import", "acled", "--no-progress", str(EVENTS)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("20 rows in ") and lines[0].endswith(
        ": 9 imported, 0 revised, 0 already present, 3 skipped, 8 refused"
    )
    assert any(
        line.startswith("  skipped      1  not a violation: Protests / Peaceful protest  (e.g.")
        for line in lines
    )
    assert any("refused      1  date too vague  (e.g. SYR90010:" in line for line in lines)
    assert any(line.endswith("Military Forces of Syria (2000-)") for line in lines)

    again = CliRunner().invoke(
        cli.main, ["import", "acled", "--no-progress", str(revised_file(tmp_path))]
    )
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[0].endswith(
        ": 0 imported, 1 revised, 1 already present, 1 skipped, 0 refused"
    )
