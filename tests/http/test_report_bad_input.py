"""Bad input to the report endpoints (reliability.md rows 10-15, 23, 29-32): each gets a
clear 4xx problem and leaves every table as it was."""

import datetime as dt
import json

import pytest

from tests.http.report_helpers import IDLEB, assert_problem, auth, counts, report_body


@pytest.fixture
def secret(reporter):
    return reporter[1]


def raw_post(
    client, secret, content: bytes | str, content_type="application/json", path="/v1/reports"
):
    headers = auth(secret)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.post(path, content=content, headers=headers)


def refused(client, db, secret, body, status, **kwargs):
    """POST ``body`` (a dict, or raw text/bytes), expect ``status``, and no change in the DB."""
    before = counts(db)
    if isinstance(body, dict | list):
        response = client.post(kwargs.pop("path", "/v1/reports"), json=body, headers=auth(secret))
    else:
        response = raw_post(client, secret, body, **kwargs)
    problem = assert_problem(response, status)
    assert counts(db) == before
    return problem


def fields(problem):
    return [e["field"] for e in problem.get("errors", [])]


def point(*coordinates):
    return report_body(location={"type": "Point", "coordinates": list(coordinates)})


# ---- rows 11, 13, 14, 15: coordinates ----


@pytest.mark.parametrize(
    "coordinates",
    [
        [36.63, 90.0000001],
        [-180.5, 35.93],
        [36.63, 1e308],
        ["36.63", "35.93"],  # strings posing as numbers
        [True, 35.93],
        [None, 35.93],
        [[36.63, 35.93]],
        [36.63, 35.93, 100.0],  # a third ordinate
        [36.63, 35.93, 1.0, 2.0],
        [36.63],
    ],
)
def test_bad_coordinates_are_422_naming_the_field(client, db, secret, coordinates):
    problem = refused(client, db, secret, point(*coordinates), 422)
    assert any(f.startswith("body.location.coordinates") for f in fields(problem))


def test_swapped_coordinates_fall_outside_the_area(client, db, secret):
    problem = refused(client, db, secret, point(IDLEB[1], IDLEB[0]), 422)
    assert "outside the area" in problem["detail"]
    assert fields(problem) == ["body.location"]


@pytest.mark.parametrize(
    "location",
    [
        {"type": "Point", "coordinates": IDLEB, "crs": {"type": "name", "properties": {}}},
        "SRID=3857;POINT(4077000 4290000)",
        {"type": "Point", "coordinates": [4077000.0, 4290000.0]},  # projected metres
        {"type": "Polygon", "coordinates": [[IDLEB, IDLEB, IDLEB, IDLEB]]},
    ],
)
def test_only_wgs84_points(client, db, secret, location):
    problem = refused(client, db, secret, report_body(location=location), 422)
    assert any(f.startswith("body.location") for f in fields(problem))


# ---- row 12: NaN and Infinity ----


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literals_are_422(client, db, secret, literal):
    body = json.dumps(report_body()).replace("36.63", literal)
    problem = refused(client, db, secret, body, 422)
    assert any(f.startswith("body.location.coordinates.0") for f in fields(problem))
    casualties = json.dumps(report_body()).replace('"killed": 3', f'"killed": {literal}')
    assert "body.casualties.killed" in fields(refused(client, db, secret, casualties, 422))


@pytest.mark.parametrize("text", ["NaN", "inf", "-Infinity"])
def test_non_finite_strings_are_422(client, db, secret, text):
    refused(client, db, secret, point(text, 35.93), 422)


def test_nan_in_a_query_is_400(client, secret):
    response = client.get("/v1/reports", params={"bbox": "nan,35,37,36"}, headers=auth(secret))
    assert "query.bbox" in fields(assert_problem(response, 400))


# ---- row 23: mass assignment ----


@pytest.mark.parametrize(
    "extra",
    [
        {"status": "verified"},
        {"reporter_id": "00000000-0000-0000-0000-000000000001"},
        {"reporter": {"key_id": "00000000-0000-0000-0000-000000000001", "name": "x"}},
        {"id": "00000000-0000-0000-0000-000000000001"},
        {"created_at": "2017-01-01T00:00:00Z"},
        {"responsible_guarantors": ["TUR"]},
        {"ceasefire_status": "excluded"},
    ],
)
def test_mass_assignment_is_refused(client, db, secret, extra):
    problem = refused(client, db, secret, report_body(**extra), 422)
    assert fields(problem) == [f"body.{next(iter(extra))}"]


# ---- row 29: text ----


def test_oversize_description_is_422(client, db, secret):
    problem = refused(client, db, secret, report_body(description="x" * 10_001), 422)
    assert fields(problem) == ["body.description"]


def test_a_five_megabyte_description_is_413(client, db, secret):
    refused(client, db, secret, report_body(description="x" * 5_000_000), 413)


@pytest.mark.parametrize("field", ["description", "place_name", "perpetrator", "province"])
def test_nul_characters_are_422(client, db, secret, field):
    problem = refused(client, db, secret, report_body(**{field: "a\u0000b"}), 422)
    assert fields(problem) == [f"body.{field}"]


def test_invalid_utf8_is_400(client, db, secret):
    body = json.dumps(report_body(description="PLACEHOLDER")).encode()
    refused(client, db, secret, body.replace(b"PLACEHOLDER", b"\xff\xfe\xc3("), 400)


def test_an_unpaired_surrogate_escape_is_400(client, db, secret):
    body = json.dumps(report_body(description="PLACEHOLDER")).replace("PLACEHOLDER", "\\ud800")
    refused(client, db, secret, body, 400)


def test_unicode_round_trips_exactly(client, secret):
    text = "قصف على سراقب \u202e\u202c 🕊️ — ‘quoted’ 漢字 e\u0301"
    escaped = json.dumps(report_body(description=text), ensure_ascii=True)  # surrogate pairs
    response = raw_post(client, secret, escaped)
    assert response.status_code == 201, response.text
    assert response.json()["description"] == text
    stored = client.get(response.headers["location"], headers=auth(secret)).json()
    assert stored["description"] == text


# ---- row 30: time ----


@pytest.mark.parametrize(
    ("occurred_at", "says"),
    [
        # A fixed id: pytest-xdist's workers must collect the same names.
        pytest.param(
            (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat(), "future", id="in-an-hour"
        ),
        ("1970-01-01T00:00:00Z", "plausible"),
        ("2017-01-10T09:30:00", "timezone"),
        ("2024-02-30T10:00:00Z", ""),
        ("yesterday", ""),
        (1484033400, ""),
    ],
)
def test_bad_times_are_422(client, db, secret, occurred_at, says):
    problem = refused(client, db, secret, report_body(occurred_at=occurred_at), 422)
    assert says in problem["detail"]
    assert fields(problem) == ["body.occurred_at"]


# ---- row 31: content type and JSON syntax ----


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_declared_json_is_415(client, db, secret, content_type):
    refused(client, db, secret, json.dumps(report_body()), 415, content_type=content_type)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('{"occurred_at": ', "malformed JSON"),
        (json.dumps(report_body()) + " trailing", "malformed JSON"),
        (json.dumps(report_body()) + json.dumps(report_body()), "malformed JSON"),
        ('{"violation_type": "shelling", "violation_type": "airstrike"}', "duplicate key"),
        ("", "empty"),
        ("[" * 100_000 + "]" * 100_000, ""),
        ('{"killed": ' + "9" * 5000 + "}", ""),
    ],
)
def test_malformed_json_is_400(client, db, secret, body, says):
    assert says in refused(client, db, secret, body, 400)["detail"]


def test_json_that_is_not_an_object_is_422(client, db, secret):
    refused(client, db, secret, [report_body()], 422)


def test_json_with_a_charset_is_accepted(client, secret):
    response = raw_post(
        client, secret, json.dumps(report_body()), content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 201


# ---- row 10: body size ----


def test_a_body_over_the_limit_is_413_before_it_is_read(client, db, secret):
    body = b'{"description": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    problem = refused(client, db, secret, body, 413)
    assert "limit" in problem["detail"]
    refused(client, db, secret, body, 413, path="/v1/reports/batch")


def test_a_streamed_body_over_the_limit_is_413(client, db, secret):
    def chunks():
        yield b'{"description": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    before = counts(db)
    response = client.post(
        "/v1/reports",
        content=chunks(),
        headers=auth(secret, **{"Content-Type": "application/json"}),
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert counts(db) == before


# ---- row 32 ----


def test_an_undefined_method_is_405_with_allow(client, secret):
    response = client.put("/v1/reports", json=report_body(), headers=auth(secret))
    assert_problem(response, 405)
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
