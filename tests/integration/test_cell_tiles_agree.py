"""Cells tiles read from the per-category rollups equal the cells counted live, feature for
feature, for random filters, windows, views and tiles at zooms 3 to 7.

One data set is seeded for the module (reports submitted as the service takes them, then
reviewed), spread over three local months and gathered around local midnights and month
starts in both theatre time zones the examples switch between (Asia/Damascus, which skipped
midnight on 31 March 2017, and Asia/Kolkata, UTC+05:30); it sits inside a transaction
rolled back at the end. Every example asks the service through the ASGI app twice: as it
answers (from the rollups) and with the rollups switched off (counted live, as before them).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import mapbox_vector_tile
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from service.report.schemas import ReportCreate
from service.tiles import rollup
from service.tiles import service as tiles
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

TIMEZONES = ("Asia/Damascus", "Asia/Kolkata")
FIRST_DAY = dt.date(2017, 1, 27)
LAST_DAY = dt.date(2017, 4, 6)
# Boxes inside governorates (Idleb and Aleppo across a z7 tile edge, Hama, Dar'a, Rural
# Damascus, Deir ez-Zor).
BOXES = [
    (36.45, 35.75, 37.15, 36.25),
    (36.9, 35.05, 37.6, 35.45),
    (36.0, 32.55, 36.45, 33.0),
    (36.6, 33.3, 37.2, 33.7),
    (40.0, 35.2, 40.3, 35.4),
]
PROVINCES = ["Idlib", "Aleppo", "SY05", "Dar'a", "SY03", "Deir-ez-Zor", "Homs"]
PERPETRATORS = [
    "Syrian Arab Army",
    "Ahrar al-Sham",
    "Russian armed forces",
    "Islamic State",
    "Hay'at Tahrir al-Sham",
    "Free Syrian Army",
    "Turkish armed forces",
    None,
]
TARGETS = ["Civilians", "Ahrar al-Sham", "Syrian Arab Army", "Jaysh al-Islam", None]
PARTIES = ["SAA", "Ahrar al-Sham", "russian-forces", "Islamic State", "civilians", "FSA"]
TYPES = ["shelling", "airstrike", "small_arms", "ied", "barrel_bomb"]
CEASEFIRE = ["violation", "excluded", "not_party", "outside_period"]
OFFSETS = [0, 0, 0, -1, 1]  # mostly the tile holding a box, sometimes a neighbour


def midnights(tz: str) -> list[dt.datetime]:
    """Local midnights of the month starts and of a few days around them."""
    zone = ZoneInfo(tz)
    days = [dt.date(2017, m, 1) + dt.timedelta(days=k) for m in (2, 3, 4) for k in (-1, 0, 1)]
    days += [dt.date(2017, 3, 31), FIRST_DAY, LAST_DAY]
    return [dt.datetime.combine(d, dt.time(), zone).astimezone(dt.UTC) for d in days]


def seeded_times(rng: random.Random, n: int) -> list[dt.datetime]:
    near = [m for tz in TIMEZONES for m in midnights(tz)]
    start = dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC)
    span = (LAST_DAY - FIRST_DAY).days * 86400
    times = []
    for k in range(n):
        if k % 3 == 0:
            times.append(rng.choice(near) + dt.timedelta(seconds=rng.randint(-7200, 7200)))
        else:
            times.append(start + dt.timedelta(seconds=rng.randint(0, span)))
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
            province_only=(0.05, ["Idlib", "Hama"]),  # a province only: in no cell
            killed=5,
            injured=2,
        )
        for at in seeded_times(rng, n)
    ]


@pytest.fixture(scope="module")
def module_db(engine: Engine) -> Iterator[Session]:
    with rolled_back_session(engine) as session:
        yield session


@pytest.fixture(scope="module")
def seeded(module_db: Session) -> dict[str, str]:
    """About 400 incidents of every status; returns the monitor's Authorization."""
    session = module_db
    rng = random.Random(20170201)  # noqa: S311 - test data
    secret, _ = seed_incidents(session, rng, seed_reports(rng, 420), [30, 45, 12, 7, 6])
    # Part in the rollups, part in deltas not yet folded (a third of the bands moved after).
    assert session.execute(text("SELECT compact_incident_rollups()")).scalar_one() > 100
    give_bands(session, rng)
    assert session.execute(text("SELECT count(*) FROM incident_rollup_deltas")).scalar_one()
    months = session.execute(text("SELECT count(*) FROM incident_cell_months")).scalar_one()
    assert months > 100
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def client(module_db: Session, seeded):
    with app_client(module_db) as test_client:
        yield test_client


BANDS = ["low", "medium", "high"]


# ---- questions ----


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@st.composite
def instants(draw, tz: str) -> tuple[str, dt.datetime | None]:
    """One end of a window, and the instant it starts at (None: open)."""
    kind = draw(st.sampled_from(["z", "midnight", "midnight", "date", "open"]))
    if kind == "open":
        return draw(st.sampled_from(["..", ""])), None
    if kind == "date":
        day = FIRST_DAY + dt.timedelta(days=draw(st.integers(-3, (LAST_DAY - FIRST_DAY).days + 3)))
        start = dt.datetime.combine(day, dt.time(), ZoneInfo(tz)).astimezone(dt.UTC)
        return day.isoformat(), start
    if kind == "midnight":
        base = draw(st.sampled_from(midnights(tz)))
        at = base + dt.timedelta(seconds=draw(st.sampled_from([0, 0, -1, 1, 3600])))
        return iso(at, tz, draw(st.integers(0, 1))), at
    start = dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC) - dt.timedelta(days=2)
    at = start + dt.timedelta(seconds=draw(st.integers(0, (LAST_DAY - FIRST_DAY).days * 86400)))
    return iso(at, tz, draw(st.integers(0, 1))), at


@st.composite
def windows(draw, tz: str) -> str | None:
    if draw(st.integers(0, 5)) == 0:
        return None
    (a, at_a), (b, at_b) = draw(instants(tz)), draw(instants(tz))
    if at_a is not None and at_b is not None and at_a > at_b:
        (a, at_a), (b, at_b) = (b, at_b), (a, at_a)
    if at_a is not None and at_b is not None and at_a == at_b:
        b = ".."
    if a in ("", "..") and b in ("", ".."):
        b = "2017-03-15"
    return f"{a}/{b}"


def _subset(draw, values: list[str], most: int = 2) -> str:
    return ",".join(draw(st.lists(st.sampled_from(values), min_size=1, max_size=most, unique=True)))


@st.composite
def questions(draw) -> dict:
    tz = draw(st.sampled_from(TIMEZONES))
    public = draw(st.booleans())
    filters: dict[str, str] = {}
    window = draw(windows(tz))
    if window is not None:
        filters["datetime"] = window
    if draw(st.integers(0, 2)) == 0:
        filters["province"] = _subset(draw, PROVINCES)
    if draw(st.integers(0, 2)) == 0:
        filters["violation_type"] = _subset(draw, TYPES)
    if draw(st.integers(0, 3)) == 0:
        filters["ceasefire_status"] = _subset(draw, CEASEFIRE)
    if draw(st.integers(0, 3)) == 0:
        filters["guarantor"] = draw(st.sampled_from(["RUS", "TUR", "IRN"]))
    if draw(st.integers(0, 2)) == 0:
        filters["party"] = draw(st.sampled_from(PARTIES))
    if draw(st.integers(0, 2)) == 0:
        filters["confidence"] = _subset(draw, BANDS)
    if public:
        if draw(st.booleans()):
            filters["status"] = "verified"
    elif draw(st.booleans()):
        filters["status"] = _subset(draw, STATUSES, most=3)
    z = draw(st.integers(3, 7))
    box = draw(st.sampled_from(BOXES))
    x, y = tile_of(box[0], box[1], z)
    return {
        "tz": tz,
        "public": public,
        "filters": filters,
        "tile": (z, x + draw(st.sampled_from(OFFSETS)), y + draw(st.sampled_from(OFFSETS))),
    }


# ---- answers ----


def cells(client, tile, query, headers) -> list:
    z, x, y = tile
    response = client.get(f"/tiles/incidents/{z}/{x}/{y}.mvt?{urlencode(query)}", headers=headers)
    assert response.status_code == 200, (tile, query, response.text)
    layers = mapbox_vector_tile.decode(response.content) if response.content else {}
    assert "incidents" not in layers  # below the points' zoom: cells only
    features = layers.get("cells", {"features": []})["features"]
    return sorted(
        (repr(f["geometry"]), sorted((k, v, type(v).__name__) for k, v in f["properties"].items()))
        for f in features
    )


def both(client, tile, query, headers) -> tuple[list, list]:
    """The cells as served (every filter from the per-category rollups: the status-only
    rollup of 0021 is switched off), and as counted live."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tiles, "_rollup_answers", lambda view, filters: False)
        calls = []
        original = rollup.cells_tile
        patch.setattr(rollup, "cells_tile", lambda **kw: calls.append(1) or original(**kw))
        rolled = cells(client, tile, query, headers)
        assert calls, "the per-category rollups were not read"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tiles, "_rollup_answers", lambda view, filters: False)
        patch.setattr(rollup, "answers", lambda view, filters: False)
        live = cells(client, tile, query, headers)
    return rolled, live


def test_a_known_question_has_cells_and_they_agree(client, module_db, seeded):
    use_timezone(module_db, "Asia/Damascus")
    query = {"datetime": "2017-02-10T06:15:00Z/2017-03-20T13:00:00Z", "party": "SAA"}
    z, (x, y) = 5, tile_of(36.8, 36.0, 5)
    for headers in (seeded, {}):
        rolled, live = both(client, (z, x, y), query, headers)
        assert rolled == live and len(rolled) >= 2
        properties = dict((k, t) for k, _, t in rolled[0][1])
        assert properties == {
            "incidents": "int",
            "violations": "int",
            "killed": "int",
            "cell_deg": "float",
        }


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(question=questions())
def test_cells_from_the_rollups_equal_cells_counted_live(client, module_db, seeded, question):
    use_timezone(module_db, question["tz"])
    headers = {} if question["public"] else seeded
    rolled, live = both(client, question["tile"], question["filters"], headers)
    assert rolled == live, question
    event("cells" if rolled else "no cells")
