"""What ``submit`` answers for a report it just stored is what reading it back gives:
the batch builds its answers from the rows it inserted instead of reading them again."""

import orjson

from service.report.schemas import ReportCreate
from service.report.service import read_reports, submit


def _report(**fields):
    body = {
        "occurred_at": "2017-01-10T09:30:00+02:00",
        "location": {"type": "Point", "coordinates": [36.63, 35.93]},
        "violation_type": "shelling",
        "perpetrator": "Syrian Arab Army",
        "target": "Ahrar al-Sham",
        "casualties": {"killed": 3, "injured": 5, "civilians_killed": 1},
        "sources": [{"kind": "media", "publisher": "SANA", "url": "https://example.org/a"}],
        "description": "Shelling of the market",
        "place_name": "Saraqib",
    }
    body.update(fields)
    return ReportCreate.model_validate({k: v for k, v in body.items() if v is not None})


def _canonical(report):
    return orjson.loads(orjson.dumps(report, default=str, option=orjson.OPT_SORT_KEYS))


def test_every_kind_of_new_report_answers_as_it_reads_back(db, submitter):
    reports = [
        _report(),
        # no point: the governorate given
        _report(location=None, province="Idlib", occurred_at="2017-02-01T00:00:00Z"),
        # unknown actors, a coalition of names, no casualties, no sources
        _report(
            perpetrator="Nobody we know",
            target="Ahrar al-Sham, Jabhat Fateh al-Sham",
            casualties=None,
            sources=[],
            description=None,
            location={"type": "Point", "coordinates": [37.1612345, 36.2023456]},
        ),
        # just off the coast: located to the nearest province, with its distance
        _report(location={"type": "Point", "coordinates": [35.85, 34.90]}, perpetrator=None),
        # the same event again: correlation joins the first report's incident or lists it
        _report(occurred_at="2017-01-10T10:00:00+02:00"),
    ]
    outcomes = submit(session=db, submitter=submitter, reports_in=reports)
    assert [o.status for o in outcomes] == [201] * len(reports)
    assert all(o.created for o in outcomes)
    read = {r["id"]: r for r in read_reports(session=db, ids=[o.report["id"] for o in outcomes])}
    for outcome in outcomes:
        assert _canonical(outcome.report) == _canonical(read[outcome.report["id"]])
    # the point outside is located by distance, and still reads back the same
    assert outcomes[3].report["location_match"] == "nearest"
