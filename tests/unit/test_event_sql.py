"""The event's filters are SQLAlchemy Core expressions over either event table, their values
bound as named parameters (so a statement is built and compiled once per shape)."""

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement

from service.event.filters import BBox, EventFilters, category_conditions, conditions
from service.event.statements import shape, values
from service.incident.models import Incident
from service.maps.models import IncidentDailyCount
from service.maps.view import IncidentView
from service.report.models import Report

DIALECT = postgresql.psycopg.dialect()
SINCE = dt.datetime(2017, 1, 1, tzinfo=dt.UTC)
FILTERS = EventFilters(
    provinces=("SY07", "SY02"),
    violation_types=("shelling",),
    ceasefire_statuses=("violation",),
    guarantor="RUS",
    party="syrian-government-forces",
    since=SINCE,
    until=SINCE + dt.timedelta(days=31),
    bbox=BBox(36.0, 35.5, 37.5, 36.5),
)
EXPECTED = {
    "f_provinces": ["SY07", "SY02"],
    "f_types": ["shelling"],
    "f_cstatuses": ["violation"],
    "f_guarantor": ["RUS"],
    "f_party": "syrian-government-forces",
    "f_since": SINCE,
    "f_until": SINCE + dt.timedelta(days=31),
    "f_minx": 36.0,
    "f_miny": 35.5,
    "f_maxx": 37.5,
    "f_maxy": 36.5,
}


def compiled(expression):
    result = select(1).where(expression).compile(dialect=DIALECT)
    return str(result), result.params


@pytest.mark.parametrize(
    ("table", "name"),
    [
        (Report.__table__, "reports"),
        (Incident.__table__, "incidents"),
        (Incident.__table__.alias("i"), "i"),
        (Report.__table__.alias("r"), "r"),
    ],
)
def test_the_filters_are_core_over_either_table_with_every_value_bound(table, name):
    condition = conditions(FILTERS, table)
    assert isinstance(condition, ColumnElement)
    sql, params = compiled(condition)
    assert params == EXPECTED
    for column in ("province_pcode", "violation_type", "occurred_at", "geom"):
        assert f"{name}.{column}" in sql
    # No value is written into the SQL: a statement is one per shape, whatever the values.
    assert "SY07" not in sql and "36.0" not in sql and "RUS" not in sql


def test_no_filter_is_true_and_reports_refuse_a_status_they_do_not_have():
    assert compiled(conditions(EventFilters(), Report.__table__)) == ("SELECT 1 \nWHERE true", {})
    with pytest.raises(ValueError, match="no such column"):
        conditions(EventFilters(statuses=("verified",)), Report.__table__)


def test_incidents_and_the_daily_rollup_share_the_category_conditions():
    daily = IncidentDailyCount.__table__
    found = category_conditions(
        FILTERS,
        province=daily.c.province_pcode,
        status=daily.c.status,
        ceasefire_status=daily.c.ceasefire_status,
        guarantors=daily.c.guarantors,
    )
    sql, params = compiled(found[0] & found[1] & found[2])
    assert "incident_daily_counts.province_pcode = ANY" in sql
    assert "incident_daily_counts.guarantors @>" in sql
    assert params == {k: EXPECTED[k] for k in ("f_provinces", "f_cstatuses", "f_guarantor")}


def test_the_public_box_binds_the_grown_box_apart_from_the_shown_one():
    view = IncidentView(public=True, cell=0.1, timezone=ZoneInfo("Asia/Damascus"))
    condition = view.conditions(EventFilters(bbox=FILTERS.bbox), Incident.__table__.alias("i"))
    sql, params = compiled(condition)
    assert params["f_grown_minx"] == pytest.approx(35.9) and params["f_minx"] == 36.0
    assert "CASE WHEN" in sql and "i.geom && ST_MakeEnvelope(%(f_grown_minx)s" in sql
    assert values(condition) == params


def test_the_shape_follows_which_filters_are_given_not_their_values():
    table = Incident.__table__
    one = conditions(EventFilters(provinces=("SY07",), since=SINCE), table)
    other = conditions(EventFilters(provinces=("SY02", "SY12"), since=SINCE.replace(day=9)), table)
    assert shape(one) == shape(other)
    assert shape(one) != shape(conditions(EventFilters(provinces=("SY07",)), table))


def test_a_name_bound_to_two_values_is_refused():
    table = Incident.__table__
    one = conditions(EventFilters(party="a"), table)
    other = conditions(EventFilters(party="b", reporter_key_id=uuid.uuid4()), Report.__table__)
    with pytest.raises(ValueError, match="two values"):
        values(one, other)
