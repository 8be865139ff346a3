"""Value types shared by request models and query parameters."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")

# The days a request may name: far wider than any record, narrow enough that a day's
# arithmetic in any time zone (a day's end, an offset moved to UTC) never leaves the range
# Python and PostgreSQL can represent. Year 1 and 9999 are refused, not overflowed.
EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(2999, 12, 31)
DAY_RANGE = f"{EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}"


def day_in_range(day: dt.date) -> bool:
    """Whether ``day`` (or a date-time's own calendar day, before any offset is applied)
    lies in the supported range."""
    if isinstance(day, dt.datetime):
        day = day.date()
    return EARLIEST_DAY <= day <= LATEST_DAY


def _rfc3339_text(value: object) -> object:
    # Pydantic would also read a number, or a numeric string, as Unix time; the API promises
    # RFC 3339 text with an offset only.
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError(
            "must be an RFC 3339 date-time with an offset, e.g. 2017-01-05T14:30:00+02:00"
        )
    return value


def _supported(value: dt.date) -> dt.date:
    if not day_in_range(value):
        raise ValueError(f"must lie within {DAY_RANGE}")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_supported)]
# A calendar day named in a path or query.
Day = Annotated[dt.date, AfterValidator(_supported)]

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _day_text(value: object) -> object:
    # In a JSON body Pydantic would also read a number as Unix time: a day is YYYY-MM-DD.
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _ISO_DAY.match(value):
        raise ValueError("must be a day, YYYY-MM-DD")
    return value


# A calendar day given in a JSON body.
BodyDay = Annotated[dt.date, BeforeValidator(_day_text), AfterValidator(_supported)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def Text(max_length: int, min_length: int = 0):  # noqa: N802 - a type factory
    """Input text of a bounded length, without NUL characters (the schema says so too, as a
    pattern: a client, or a fuzzer, reading it knows a NUL is refused)."""
    return Annotated[
        str,
        Field(
            min_length=min_length,
            max_length=max_length,
            json_schema_extra={"pattern": "^[^\\u0000]*$"},
        ),
        AfterValidator(_no_nul),
    ]
