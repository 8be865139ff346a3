"""Reading UCDP GED rows as reports: pure functions, no database.

How one GED row (codebook 19.1) becomes a ``ReportCreate``:

- ``id`` -> ``client_report_id`` = uuid5(``UCDP_NAMESPACE``, "ucdp:<id>"), so importing the
  same row again is a replay, never a second report.
- ``date_start`` -> ``occurred_at`` at noon, theatre time (the GED gives days, not hours; noon
  keeps the day the same however the offset moves). ``time_precision`` is ``day`` when the
  date is exact (``date_prec`` 1 and ``date_end`` = ``date_start``) and ``week`` when the event
  is known to within at most seven days (``date_prec`` 2-3 or a range of up to six days after
  ``date_start``). A longer range (``date_prec`` 4-5: a month, a year) is refused: the service
  has no coarser precision, and counting such an event on its first day would put it in the
  wrong daily digest.
- ``where_prec`` -> ``geo_precision`` and the place:
  1 (the named place itself: a village, a town, a neighbourhood) -> ``settlement``;
  2 (within about 25 km of a named place) -> ``near``;
  3 (only the district is known; the point is its centre) -> ``district``;
  4 (only the governorate) and 5 (a road, a river, a region such as "northern Hama")
  -> ``province``, sent as the governorate named in ``adm_1`` and no point: the GED's point
  there is a centroid or a representative point, which would show a false hotspot on maps and
  credit a district that merely contains the centroid;
  6 (only the country) and 7 (international waters or airspace) are refused.
  ``longitude``/``latitude`` -> ``location``; ``where_coordinates`` -> ``place_name``.
- ``side_a`` -> ``perpetrator`` and ``side_b`` -> ``target``, as written (the service resolves
  the names, coalitions included). Beware: UCDP's ``side_a`` is not the attacker. In
  state-based events (``type_of_violence`` 1) it is the government side whoever fired first;
  in non-state events it is the actor with the lower id; only in one-sided violence (3) is it
  the perpetrator (``side_b`` being "Civilians"). Attribution from the GED is therefore a
  convention, not an observation.
- ``best`` -> ``killed`` and ``deaths_civilians`` -> ``civilians_killed`` (the GED counts
  deaths only: ``injured`` stays 0).
- ``source_headline`` -> ``description``; each article in ``source_article`` (offices in
  ``source_office``, separated by ";") -> a source of kind ``media`` with its office as the
  publisher (the GED gives no URL and no grading).
- ``violation_type`` from the headline by the keyword table ``VIOLATION_KEYWORDS`` (first
  match wins, so "aerial bombardment" is an airstrike before "bombardment" is shelling);
  ``other`` when nothing matches.

A row that cannot be read or that the report schema refuses becomes a ``Refusal`` with a
short, countable reason; it never stops an import.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from service.event.terms import ViolationType
from service.report.schemas import ReportCreate

# Fixed forever: changing it would make every imported row look new.
UCDP_NAMESPACE = uuid.UUID("6f1c1d52-3b0e-5c36-9a57-2d0e3c6b8a41")
LOCAL_HOUR = 12
LONGEST_WEEK_SPAN_DAYS = 6  # date_end at most six days after date_start: seven calendar days

# where_prec -> geo_precision; None: the row is refused (no usable place).
GEO_PRECISION: dict[int, str | None] = {
    1: "settlement",
    2: "near",
    3: "district",
    4: "province",
    5: "province",
    6: None,
    7: None,
}
# where_prec values whose point stands for the place itself (otherwise: the province only).
POINT_PRECISIONS = frozenset({1, 2, 3})

VIOLATION_KEYWORDS: tuple[tuple[ViolationType, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE))
    for kind, pattern in (
        (ViolationType.chemical, r"chemical|chlorine|toxic gas(?:es)?|poison(?:ous)? gas|sarin"),
        (ViolationType.barrel_bomb, r"barrels?|barrel bombs?"),
        (
            ViolationType.airstrike,
            r"air ?strikes?|air ?raids?|aerial|warplanes?|war planes?|helicopters?|jets?"
            r"|raids?|cluster",
        ),
        (ViolationType.missile, r"missiles?|rockets?|surface-to-surface"),
        (ViolationType.shelling, r"shell(?:s|ing|ed)?|artillery|mortars?|bombardments?|cannons?"),
        (ViolationType.sniper, r"snipers?|sniping"),
        (
            ViolationType.ied,
            r"ieds?|explosive devices?|car bombs?|booby[- ]trap(?:s|ped)?|land ?mines?|mines"
            r"|explosions?|explosives?|suicide|bombs?|bombings?",
        ),
        (ViolationType.siege, r"besieged|sieges?|starvation|blockade"),
        (
            ViolationType.detention,
            r"arrest(?:s|ed)?|detain(?:s|ed|ees?)?|detention|kidnap(?:ped)?|abduct(?:s|ed)?|torture",
        ),
        (ViolationType.displacement, r"displaced|displacement|forced out|expelled"),
        (ViolationType.small_arms, r"gunfire|gunshots?|shooting|shot|bullets?"),
        (
            ViolationType.ground_assault,
            r"clash(?:es)?|battles?|fighting|attacks?|assaults?|offensive|advanc(?:e|es|ed|ement)"
            r"|storm(?:s|ed)?|ambush(?:ed)?",
        ),
    )
)


@dataclass(frozen=True)
class Refusal:
    """A row not imported: ``reason`` is short and countable, ``detail`` names the values."""

    ucdp_id: str
    reason: str
    detail: str

    @property
    def source_id(self) -> str:
        return self.ucdp_id


@dataclass(frozen=True)
class Mapped:
    ucdp_id: str
    report: ReportCreate

    @property
    def source_id(self) -> str:
        return self.ucdp_id


def client_report_id(ucdp_id: str) -> uuid.UUID:
    return uuid.uuid5(UCDP_NAMESPACE, f"ucdp:{ucdp_id}")


_NAMESPACE_BYTES = UCDP_NAMESPACE.bytes


def client_report_hex(ucdp_id: str) -> str:
    """``client_report_id(ucdp_id).hex`` without building the UUID (a re-import computes one
    per record: RFC 4122's name-based version 5, spelt out)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"ucdp:{ucdp_id}".encode()).digest()[:16])  # noqa: S324 - UUIDv5 is SHA-1 by definition
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return digest.hex()


def violation_type(headline: str | None) -> ViolationType:
    """The first kind in ``VIOLATION_KEYWORDS`` whose keyword the headline contains."""
    if headline:
        for kind, pattern in VIOLATION_KEYWORDS:
            if pattern.search(headline):
                return kind
    return ViolationType.other


def occurred(
    date_start: dt.date, date_end: dt.date, date_prec: int, timezone: ZoneInfo
) -> tuple[dt.datetime, str] | str:
    """(occurred_at, time_precision), or why the date is too vague to import."""
    span = (date_end - date_start).days
    if span < 0:
        return f"date_end {date_end} is before date_start {date_start}"
    if span > LONGEST_WEEK_SPAN_DAYS:
        return f"known only to within {span + 1} days (date_prec {date_prec})"
    at = dt.datetime.combine(date_start, dt.time(LOCAL_HOUR), tzinfo=timezone)
    return at, ("day" if span == 0 and date_prec <= 1 else "week")


def sources(source_office: str | None) -> list[dict[str, str]]:
    """One media source per article; the GED lists one office per article, ";"-separated."""
    offices = [o.strip() for o in (source_office or "").split(";")]
    return [{"kind": "media", "publisher": office[:200]} for office in offices if office]


def _text(row: Mapping[str, str | None], column: str) -> str | None:
    value = (row.get(column) or "").strip()
    return value or None


class _Unreadable(ValueError):
    def __init__(self, column: str, value: object, expected: str) -> None:
        super().__init__(f"{column} {value!r} is not {expected}")
        self.column = column


def _int(row: Mapping[str, str | None], column: str, default: int | None = None) -> int:
    value = _text(row, column)
    if value is None and default is not None:
        return default
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _Unreadable(column, value, "a whole number") from None


def _float(row: Mapping[str, str | None], column: str) -> float:
    value = _text(row, column)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _Unreadable(column, value, "a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise _Unreadable(column, value, "a finite number")
    return number


def _date(row: Mapping[str, str | None], column: str) -> dt.date:
    value = _text(row, column)
    try:
        return dt.date.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _Unreadable(column, value, "a date (YYYY-MM-DD)") from None


def to_report(row: Mapping[str, str | None], *, timezone: ZoneInfo) -> Mapped | Refusal:
    """One GED row as a report to submit, or why it cannot be one."""
    ucdp_id = _text(row, "id") or ""
    if not ucdp_id.isdigit():
        return Refusal(ucdp_id or "?", "no UCDP id", f"id {ucdp_id!r} is not a UCDP event id")
    try:
        date_start = _date(row, "date_start")
        date_end = _date(row, "date_end") if _text(row, "date_end") else date_start
        date_prec = _int(row, "date_prec", default=1)
        where_prec = _int(row, "where_prec")
        killed = _int(row, "best", default=0)
        civilians_killed = _int(row, "deaths_civilians", default=0)
        point = (_float(row, "longitude"), _float(row, "latitude"))
    except _Unreadable as exc:
        return Refusal(ucdp_id, f"unreadable {exc.column}", str(exc))

    when = occurred(date_start, date_end, date_prec, timezone)
    if isinstance(when, str):
        return Refusal(ucdp_id, "date too vague", when)
    occurred_at, time_precision = when

    if where_prec not in GEO_PRECISION:
        return Refusal(ucdp_id, "unknown where_prec", f"where_prec {where_prec} is not 1-7")
    geo_precision = GEO_PRECISION[where_prec]
    if geo_precision is None:
        what = "the country" if where_prec == 6 else "international waters or airspace"
        return Refusal(ucdp_id, "place too vague", f"where_prec {where_prec}: only {what}")
    province = _text(row, "adm_1")
    place: dict[str, object]
    if where_prec in POINT_PRECISIONS or province is None:
        place = {"location": {"type": "Point", "coordinates": list(point)}}
    else:
        place = {"province": province}

    body = {
        "occurred_at": occurred_at,
        "time_precision": time_precision,
        **place,
        "place_name": _text(row, "where_coordinates"),
        "geo_precision": geo_precision,
        "violation_type": violation_type(_text(row, "source_headline")),
        "perpetrator": _text(row, "side_a"),
        "target": _text(row, "side_b"),
        "casualties": {"killed": killed, "civilians_killed": civilians_killed},
        "description": _text(row, "source_headline"),
        "sources": sources(_text(row, "source_office")),
        "client_report_id": client_report_id(ucdp_id),
    }
    report = validated(body)
    if isinstance(report, tuple):
        return Refusal(ucdp_id, *report)
    return Mapped(ucdp_id, report)


def validated(body: dict) -> ReportCreate | tuple[str, str]:
    """The report a mapped row's body makes (its None values left out), or why not: the
    countable reason and the detail of its first error."""
    try:
        return ReportCreate.model_validate({k: v for k, v in body.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "row"
        message = first["msg"].removeprefix("Value error, ")
        return f"invalid {field}", f"{field}: {message}"
