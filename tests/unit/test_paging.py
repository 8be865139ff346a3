"""The one cursor codec (service.event.paging): round trips and refusals."""

import base64
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql

from service.errors import InvalidParameter
from service.event.paging import _TOKEN, CURSOR_MAX_LENGTH, Keyset, Kind
from service.geography.models import AdminArea
from service.incident.models import Incident
from service.types import EARLIEST_DAY, LATEST_DAY

BY_TIME = Keyset(("occurred_at", "id"), (Kind.time, Kind.uuid))
BY_ID = Keyset(("id",), (Kind.uuid,))
BY_SERIAL = Keyset(("id",), (Kind.int,))
BY_CODE = Keyset(("pcode",), (Kind.text,), descending=False)

times = st.datetimes(
    min_value=dt.datetime.combine(EARLIEST_DAY, dt.time()) + dt.timedelta(days=1),
    max_value=dt.datetime.combine(LATEST_DAY, dt.time()) - dt.timedelta(days=1),
    timezones=st.sampled_from([dt.UTC, ZoneInfo("Asia/Damascus")]),
)
codes = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=40
)


def round_trip(keyset: Keyset, position: tuple) -> tuple:
    token = keyset.encode(position)
    assert _TOKEN.fullmatch(token) and len(token) <= CURSOR_MAX_LENGTH
    return keyset.decode(token)


@given(times, st.uuids())
def test_time_and_id_round_trip(at, ident):
    # The instant survives (a zone's name does not: the cursor carries its offset).
    back_at, back_id = round_trip(BY_TIME, (at, ident))
    assert back_at.astimezone(dt.UTC) == at.astimezone(dt.UTC) and back_id == ident


@given(st.uuids(), st.integers(min_value=1, max_value=2**63 - 1), codes)
def test_id_serial_and_code_round_trip(ident, serial, code):
    assert round_trip(BY_ID, (ident,)) == (ident,)
    assert round_trip(BY_SERIAL, (serial,)) == (serial,)
    assert round_trip(BY_CODE, (code,)) == (code,)


INCIDENTS = Incident.__table__.alias("i")
AREAS = AdminArea.__table__.alias("a")


def _sql(expression) -> tuple[str, dict]:
    compiled = expression.compile(dialect=postgresql.psycopg.dialect())
    return str(compiled), compiled.params


def test_no_cursor_is_the_first_page():
    assert BY_TIME.decode(None) is None
    assert _sql(BY_TIME.after(None, INCIDENTS)) == ("true", {})


def test_the_keyset_condition_follows_the_order():
    at, ident = dt.datetime(2017, 1, 10, tzinfo=dt.UTC), uuid.uuid4()
    assert _sql(BY_TIME.after((at, ident), INCIDENTS)) == (
        "(i.occurred_at, i.id) < (%(page_k0)s::TIMESTAMP WITH TIME ZONE, %(page_k1)s::UUID)",
        {"page_k0": at, "page_k1": ident},
    )
    assert [_sql(c)[0] for c in BY_TIME.order_by(INCIDENTS)] == [
        "i.occurred_at DESC",
        "i.id DESC",
    ]
    condition, params = _sql(BY_CODE.after(("SY07",), AREAS))
    assert condition.startswith("(a.pcode) > (%(page_k0)s") and params == {"page_k0": "SY07"}
    assert [_sql(c)[0] for c in BY_CODE.order_by(AREAS)] == ["a.pcode ASC"]


@pytest.mark.parametrize(
    ("keyset", "other"),
    [
        (BY_TIME, BY_ID),
        (BY_ID, BY_TIME),
        (BY_SERIAL, BY_ID),
        (BY_ID, BY_SERIAL),
        (BY_CODE, BY_TIME),
    ],
)
def test_a_cursor_of_another_shape_is_refused(keyset, other):
    values = {
        Kind.time: dt.datetime(2017, 1, 10, tzinfo=dt.UTC),
        Kind.uuid: uuid.uuid4(),
        Kind.int: 42,
        Kind.text: "SY07",
    }
    token = other.encode(tuple(values[k] for k in other.kinds))
    with pytest.raises(InvalidParameter) as refused:
        keyset.decode(token)
    assert refused.value.name == "cursor"


@pytest.mark.parametrize(
    "bad",
    ["", "!!!", "eHl6==", "A" * (CURSOR_MAX_LENGTH + 1), "AAAA", "bnVsbA", "W10", "e30"],
)
def test_garbage_is_refused_with_one_error(bad):
    messages = set()
    for keyset in (BY_TIME, BY_ID, BY_SERIAL, BY_CODE):
        with pytest.raises(InvalidParameter) as refused:
            keyset.decode(bad)
        messages.add(refused.value.detail)
    assert messages == {"cursor: not a cursor this service issued for this list"}


@pytest.mark.parametrize(
    ("keyset", "values"),
    [
        (BY_TIME, ["2017-01-10T00:00:00", str(uuid.uuid4())]),  # naive
        (BY_TIME, ["9999-12-31T23:59:59+00:00", str(uuid.uuid4())]),
        (BY_TIME, ["0001-01-01T00:00:00+00:00", str(uuid.uuid4())]),
        (BY_TIME, ["2017-01-10T00:00:00+00:00", "not-a-uuid"]),
        (BY_CODE, ["SY\x0007"]),
        (BY_CODE, ["x" * 101]),
        (BY_CODE, [7]),
        (BY_SERIAL, [True]),
        (BY_SERIAL, [1.5]),
        (BY_SERIAL, [2**63]),
        (BY_SERIAL, ["42"]),
    ],
)
def test_values_this_service_never_writes_are_refused(keyset, values):
    token = base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")
    with pytest.raises(InvalidParameter):
        keyset.decode(token)
