"""Same question, same count: for random windows and filters, the totals of the province
counts, the time series, the grid and the tile cells equal the items' ``numberMatched``.

One data set is seeded for the module (reports submitted as the service takes them, then
reviewed), inside a transaction rolled back at the end; every example asks the service
through the ASGI app. The incidents gather around the local midnights of both theatre time
zones the examples switch between: Asia/Damascus, whose clocks skipped midnight on 31 March
2017, and Asia/Kolkata (UTC+05:30, no DST). The windows' ends are dates, ``Z`` instants at
any second, those local midnights (exactly, or a second off) and open ends.

What is compared (see the README, "Exact aggregates"):

- provinces and time series count unverified, verified and disputed incidents unless a
  ``status`` says otherwise: the items with that ``status``;
- grids and tiles count incidents with a position: the items with a box holding the
  theatre (a box leaves out province-only incidents, as grids and tiles do); tiles, like
  items, count every status unless a ``status`` says otherwise, and take no box;
- the public view (no key) counts verified incidents, with small-number suppression off
  (``public_min_count`` 1): suppression is tested in tests/http/test_public_privacy.py and
  tests/http/test_aggregate_windows.py.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import mapbox_vector_tile
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from service.report.schemas import ReportCreate
from tests.conftest import rolled_back_session
from tests.seeded_theatre import (
    STATUSES,
    app_client,
    give_bands,
    iso,
    random_report,
    seed_incidents,
    use_timezone,
)

ITEMS = "/collections/incidents/items"
COUNTED = "unverified,verified,disputed"
WORLD = "-180,-90,180,90"
TIMEZONES = ("Asia/Damascus", "Asia/Kolkata")
FIRST_DAY = dt.date(2017, 3, 28)
DAYS = 6  # 28 March to 2 April 2017: Damascus moved to UTC+3 at midnight on 31 March
# Boxes well inside governorates (Idleb and Aleppo, Hama, Dar'a, Rural Damascus).
BOXES = [
    (36.45, 35.75, 37.15, 36.25),
    (36.9, 35.05, 37.6, 35.45),
    (36.0, 32.55, 36.45, 33.0),
    (36.6, 33.3, 37.2, 33.7),
]
PROVINCES = ["Idlib", "Aleppo", "SY05", "Dar'a", "SY03", "Homs"]
PERPETRATORS = [
    "Syrian Arab Army",
    "Ahrar al-Sham",
    "Russian armed forces",
    "Islamic State",
    "Hay'at Tahrir al-Sham",
    "Free Syrian Army",
    "Syrian Democratic Forces",
    "Turkish armed forces",
    None,
]
TARGETS = ["Civilians", "Ahrar al-Sham", "Syrian Arab Army", "Jaysh al-Islam", None]
PARTIES = ["SAA", "Ahrar al-Sham", "russian-forces", "Islamic State", "civilians"]
TYPES = ["shelling", "airstrike", "small_arms", "ied", "barrel_bomb"]
CEASEFIRE = ["violation", "excluded", "not_party", "outside_period"]
# Tiles covering every seeded incident, one per zoom from 0 to 3.
TILES = [(0, 0, 0), (1, 1, 0), (2, 2, 1), (3, 4, 3)]


def midnights(tz: str) -> list[dt.datetime]:
    zone = ZoneInfo(tz)
    return [
        dt.datetime.combine(FIRST_DAY + dt.timedelta(days=k), dt.time(), zone).astimezone(dt.UTC)
        for k in range(-1, DAYS + 2)
    ]


def seeded_times(rng: random.Random, n: int) -> list[dt.datetime]:
    """Around the midnights of both zones (some exactly at one), the rest anywhere."""
    near = [m for tz in TIMEZONES for m in midnights(tz)]
    start = dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC)
    times = []
    for k in range(n):
        if k % 10 == 0:
            times.append(rng.choice(near))
        elif k % 2:
            times.append(rng.choice(near) + dt.timedelta(seconds=rng.randint(-5400, 5400)))
        else:
            times.append(start + dt.timedelta(seconds=rng.randint(0, DAYS * 86400)))
    return times


def seed_reports(rng: random.Random, n: int) -> list[ReportCreate]:
    return [
        random_report(
            rng,
            at,
            boxes=BOXES,
            types=TYPES,
            perpetrators=PERPETRATORS,
            targets=TARGETS,
            province_only=(0.08, ["Idlib", "Hama", "Homs"]),  # a province only: no position
            killed=4,
            injured=3,
        )
        for at in seeded_times(rng, n)
    ]


@pytest.fixture(scope="module")
def module_db(engine: Engine) -> Iterator[Session]:
    """As the ``db`` fixture, for the module: one transaction rolled back at its end."""
    with rolled_back_session(engine) as session:
        yield session


@pytest.fixture(scope="module")
def seeded(module_db: Session) -> dict[str, str]:
    """A few hundred incidents of every status; returns the monitor's Authorization."""
    session = module_db
    rng = random.Random(20170301)  # noqa: S311 - test data
    secret, ids = seed_incidents(session, rng, seed_reports(rng, 360), [35, 35, 12, 10, 8])
    assert len(set(ids)) == len(ids)  # every report opened an incident
    # Part in the rollups, part in deltas not yet folded (a third of the bands moved after).
    assert session.execute(text("SELECT compact_incident_rollups()")).scalar_one() > 100
    give_bands(session, rng)
    counts = dict(session.execute(text("SELECT status, count(*) FROM incidents GROUP BY 1")).all())
    assert set(counts) == set(STATUSES) and sum(counts.values()) >= 300, counts
    assert session.execute(text("SELECT count(*) FROM incidents WHERE geom IS NULL")).scalar()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def client(module_db: Session, seeded):
    # Equality needs every row's figures; the examples make thousands of requests.
    with app_client(module_db, public_min_count=1) as test_client:
        yield test_client


BANDS = ["low", "medium", "high"]


# ---- windows and filters ----


@st.composite
def instants(draw, tz: str) -> str:
    kind = draw(st.sampled_from(["z", "z", "midnight", "date", "open"]))
    if kind == "open":
        return draw(st.sampled_from(["..", ""]))
    if kind == "date":
        day = FIRST_DAY + dt.timedelta(days=draw(st.integers(-1, DAYS)))
        return day.isoformat()
    if kind == "midnight":
        base = draw(st.sampled_from(midnights(tz)))
        at = base + dt.timedelta(seconds=draw(st.sampled_from([0, 0, -1, 1, -60, 3600])))
        return iso(at, tz, draw(st.integers(0, 1)))
    start = dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC) - dt.timedelta(hours=12)
    at = start + dt.timedelta(seconds=draw(st.integers(0, (DAYS + 1) * 86400)))
    return iso(at, tz, draw(st.sampled_from([0, 0, 1])))


def _bounds(value: str, tz: str) -> tuple[dt.datetime, dt.datetime] | None:
    """[start, end) of one end of a window, as the service reads it (None for open)."""
    if value in ("", ".."):
        return None
    if len(value) == 10:
        day = dt.date.fromisoformat(value)
        zone = ZoneInfo(tz)
        return (
            dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC),
            dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC),
        )
    at = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return at, at + dt.timedelta(microseconds=1)


@st.composite
def windows(draw, tz: str) -> str | None:
    shape = draw(st.sampled_from(["none", "one", "interval", "interval", "interval"]))
    if shape == "none":
        return None
    if shape == "one":
        value = draw(instants(tz).filter(lambda v: v not in ("", "..")))
        return value
    a, b = draw(instants(tz)), draw(instants(tz))
    ba, bb = _bounds(a, tz), _bounds(b, tz)
    if ba is not None and bb is not None and ba[0] >= bb[1]:
        a, b = b, a
        ba, bb = bb, ba
    if ba is not None and bb is not None and ba[0] >= bb[1]:
        b = ".."  # the same instant twice: make it an open end
    return f"{a}/{b}"


@st.composite
def boxes(draw) -> str:
    box = draw(st.sampled_from(BOXES))
    x0 = draw(st.floats(box[0] - 0.3, box[2], allow_nan=False))
    y0 = draw(st.floats(box[1] - 0.3, box[3], allow_nan=False))
    w = draw(st.sampled_from([0.01, 0.07, 0.13, 0.3, 0.6, 2.0]))
    return f"{x0:.4f},{y0:.4f},{x0 + w:.4f},{y0 + w * 0.8:.4f}"


def _subset(draw, values: list[str], most: int = 2) -> str:
    chosen = draw(st.lists(st.sampled_from(values), min_size=1, max_size=most, unique=True))
    return ",".join(chosen)


@st.composite
def questions(draw) -> dict:
    tz = draw(st.sampled_from(TIMEZONES))
    public = draw(st.booleans())
    filters: dict[str, str] = {}
    window = draw(windows(tz))
    if window is not None:
        filters["datetime"] = window
    if draw(st.integers(0, 3)) == 0:
        filters["province"] = _subset(draw, PROVINCES)
    if draw(st.integers(0, 4)) == 0:
        filters["violation_type"] = _subset(draw, TYPES)
    if draw(st.integers(0, 3)) == 0:
        filters["ceasefire_status"] = _subset(draw, CEASEFIRE)
    if draw(st.integers(0, 4)) == 0:
        filters["guarantor"] = draw(st.sampled_from(["RUS", "TUR", "IRN"]))
    if draw(st.integers(0, 5)) == 0:
        filters["party"] = draw(st.sampled_from(PARTIES))
    if draw(st.integers(0, 2)) == 0:
        filters["confidence"] = _subset(draw, BANDS)
    if draw(st.integers(0, 4)) == 0:
        filters["bbox"] = draw(boxes())
    if public:
        if draw(st.booleans()):
            filters["status"] = "verified"
    elif draw(st.booleans()):
        filters["status"] = _subset(draw, STATUSES, most=3)
    return {
        "tz": tz,
        "public": public,
        "filters": filters,
        "interval": draw(st.sampled_from(["day", "week", "month"])),
        "cell": draw(st.sampled_from([0.1, 0.2, 0.5, 1.0])),
        "tile": draw(st.sampled_from(TILES)),
    }


# ---- the answers ----


def _get(client, path: str, query: dict[str, str], headers: dict[str, str]):
    response = client.get(f"{path}?{urlencode(query)}", headers=headers)
    assert response.status_code == 200, (path, query, response.text)
    return response


def matched(client, query: dict[str, str], headers) -> int:
    body = _get(client, ITEMS, {**query, "count": "true", "limit": "1"}, headers).json()
    return body["numberMatched"]


def row_total(rows: list[dict]) -> int:
    figures = [row.get("properties", row) for row in rows]
    assert not any(f.get("suppressed") for f in figures)
    return sum(f["incidents"] for f in figures)


def tile_total(client, tile, query, headers) -> int:
    z, x, y = tile
    content = _get(client, f"/tiles/incidents/{z}/{x}/{y}.mvt", query, headers).content
    layers = mapbox_vector_tile.decode(content) if content else {}
    assert "incidents" not in layers  # below the points' zoom: cells only
    cells = layers.get("cells", {"features": []})["features"]
    return sum(int(float(f["properties"]["incidents"])) for f in cells)


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(question=questions())
def test_every_aggregate_counts_the_items_of_its_filters(client, module_db, seeded, question):
    use_timezone(module_db, question["tz"])
    public = question["public"]
    headers = {} if public else seeded
    filters = question["filters"]
    # Provinces, series and grids count unverified, verified and disputed incidents unless
    # a status is asked (the public: verified ones, as its items).
    asked = public or "status" in filters
    stats = filters if asked else {**filters, "status": COUNTED}
    items = matched(client, stats, headers)
    provinces = _get(client, "/v1/stats/provinces", filters, headers).json()
    assert row_total(provinces["features"]) == items, ("provinces", question)
    series = _get(
        client, "/v1/stats/timeseries", {**filters, "interval": question["interval"]}, headers
    ).json()
    assert row_total(series["buckets"]) == items, ("timeseries", question)
    # Grids: positioned incidents only (a box leaves the others out of items too).
    grid = _get(client, "/v1/stats/grid", {**filters, "cell": str(question["cell"])}, headers)
    located = items if "bbox" in filters else matched(client, {**stats, "bbox": WORLD}, headers)
    assert row_total(grid.json()["features"]) == located, ("grid", question)
    # Tiles take no box, and count every status unless asked, as items do.
    if "bbox" not in filters:
        expected = located if asked else matched(client, {**filters, "bbox": WORLD}, headers)
        total = tile_total(client, question["tile"], filters, headers)
        assert total == expected, ("tile", question)
