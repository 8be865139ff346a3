"""Reading ACLED rows as reports: pure functions, no database.

How one row of ACLED's standard export becomes a ``ReportCreate`` (ACLED codebook; columns
not listed here, e.g. ``iso``, ``region``, ``country``, ``inter1``, ``civilian_targeting``,
``tags``, ``admin2``, ``admin3``, ``source_scale``, are read past):

- ``event_id_cnty`` -> ``client_report_id`` = uuid5(``ACLED_NAMESPACE``, "acled:<id>"): the
  same event is always the same report of the importer's key.
- ``timestamp`` (when ACLED last changed the row, seconds since 1970) is the row's version.
  It is kept with the report as its ACLED source, ``{"kind": "monitor", "publisher":
  "ACLED <id> (timestamp <t>)"}``, which says where the report comes from and which version
  of the row it shows; ``stored_version`` reads it back. A row seen again with a newer
  timestamp revises the report, an equal one is a replay, an older one is skipped
  (``service.importer.versioned``).
- ``event_date`` (``YYYY-MM-DD``, ``15 January 2017`` or ``15-01-2017``) -> ``occurred_at``
  at noon, theatre time (ACLED gives days, not hours; noon keeps the day whatever the offset).
  ``time_precision``: 1 (the source gives the day) -> ``day``; 2 (only the week: ACLED dates
  the event in the middle of it) -> ``week``; 3 (only the month) is refused: the service has
  no coarser precision, and counting the event on one day of the month would put it in the
  wrong daily digest.
- ``geo_precision`` -> ``geo_precision`` and the place:
  1 (the named place itself, a town or a neighbourhood) -> ``settlement`` at the point;
  2 (near the place, or in a part of a region: the point is the nearest named town) ->
  ``near`` at the point;
  3 (only a larger region is known: the point is its capital or its centre) -> ``province``,
  sent as the first-level area named in ``admin1`` and no point (the point would show a
  false hotspot on maps and credit the district that merely holds the capital); refused when
  ``admin1`` is empty. Any other code is refused.
  ``longitude``/``latitude`` -> ``location``; ``location`` -> ``place_name``.
- ``sub_event_type`` -> ``violation_type`` by ``SUB_EVENTS`` (a table keyed by event type
  and sub-event type, case-insensitively). Two sub-event types are narrowed by the notes with
  the UCDP keyword table: an air/drone strike whose notes speak of barrels is a
  ``barrel_bomb``, a shelling/artillery/missile attack whose notes speak of missiles or
  rockets a ``missile``; an attack on civilians (or excessive force against protesters) is
  ``sniper`` or ``small_arms`` when the notes say so, else ``other``. Events that are not
  violations (protests, riots, agreements, bases established, transfers of territory without
  fighting, weapons disrupted before use, ...) are *skipped*, counted by their type.
- ``actor1`` -> ``perpetrator`` and ``actor2`` -> ``target``, as written (the service resolves
  the names). Beware: ACLED says its actor order implies no direction; in battles actor 1 is
  not necessarily the attacker. Only in violence against civilians and remote violence is
  actor 1 the one acting. Attribution from ACLED is a convention to review.
- ``assoc_actor_1``/``assoc_actor_2`` (groups fighting with, or identifying, an actor) are
  not parties of their own: the service attributes one party per side. They are kept in the
  description ("Associated with actor 1: ..."), so a reader and a curator see them.
- ``fatalities`` -> ``casualties.killed``; ``civilians_killed`` is the same number in
  *Violence against civilians* (where the victims are civilians by definition) and 0 elsewhere
  (ACLED does not split its counts). ``injured`` stays 0.
- ``notes`` -> ``description``; each name in ``source`` (";"-separated) -> a source of kind
  ``media`` with that publisher (ACLED gives no URL and no grading).

A row that cannot be read or that the report schema refuses becomes a ``Refusal`` with a
short, countable reason; it never stops an import.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from service.event.terms import ViolationType
from service.importer.rows import Mapped, Refusal, Skipped
from service.importer.ucdp import (
    VIOLATION_KEYWORDS,
    _float,
    _int,
    _text,
    _Unreadable,
    validated,
)

# Fixed forever: changing it would make every imported row look new.
ACLED_NAMESPACE = uuid.UUID("e7be98fc-9097-4c10-9200-36277be64ac0")
LOCAL_HOUR = 12
MAX_SOURCES = 50  # the report schema's limit, the ACLED source included

# Columns the mapping reads; a file without them is not an ACLED export.
COLUMNS = (
    "event_id_cnty",
    "event_date",
    "time_precision",
    "event_type",
    "sub_event_type",
    "actor1",
    "assoc_actor_1",
    "actor2",
    "assoc_actor_2",
    "admin1",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "source",
    "notes",
    "fatalities",
    "timestamp",
)

# time_precision -> the service's time precision; None: refused (only the month is known).
TIME_PRECISION: dict[int, str | None] = {1: "day", 2: "week", 3: None}
# geo_precision -> the service's geo precision; 3 is sent as its admin1 area without a point.
GEO_PRECISION: dict[int, str] = {1: "settlement", 2: "near", 3: "province"}
POINT_PRECISIONS = frozenset({1, 2})

V = ViolationType
VIOLENCE_AGAINST_CIVILIANS = "violence against civilians"
# (event type, sub-event type) -> (violation type, kinds the notes may narrow it to, in
# order); a violation type of None: not a violation, the row is skipped.
SUB_EVENTS: dict[tuple[str, str], tuple[ViolationType | None, tuple[ViolationType, ...]]] = {
    ("battles", "armed clash"): (V.ground_assault, ()),
    ("battles", "government regains territory"): (V.ground_assault, ()),
    ("battles", "non-state actor overtakes territory"): (V.ground_assault, ()),
    ("explosions/remote violence", "chemical weapon"): (V.chemical, ()),
    ("explosions/remote violence", "air/drone strike"): (V.airstrike, (V.barrel_bomb,)),
    ("explosions/remote violence", "suicide bomb"): (V.ied, ()),
    ("explosions/remote violence", "shelling/artillery/missile attack"): (V.shelling, (V.missile,)),
    ("explosions/remote violence", "remote explosive/landmine/ied"): (V.ied, ()),
    ("explosions/remote violence", "grenade"): (V.small_arms, ()),
    ("violence against civilians", "sexual violence"): (V.other, ()),
    ("violence against civilians", "attack"): (V.other, (V.sniper, V.small_arms)),
    ("violence against civilians", "abduction/forced disappearance"): (V.detention, ()),
    ("protests", "peaceful protest"): (None, ()),
    ("protests", "protest with intervention"): (None, ()),
    ("protests", "excessive force against protesters"): (V.other, (V.sniper, V.small_arms)),
    ("riots", "violent demonstration"): (None, ()),
    ("riots", "mob violence"): (None, ()),
    ("strategic developments", "agreement"): (None, ()),
    ("strategic developments", "arrests"): (V.detention, ()),
    ("strategic developments", "change to group/activity"): (None, ()),
    ("strategic developments", "disrupted weapons use"): (None, ()),
    ("strategic developments", "headquarters or base established"): (None, ()),
    ("strategic developments", "looting/property destruction"): (V.other, ()),
    ("strategic developments", "non-violent transfer of territory"): (None, ()),
    ("strategic developments", "other"): (None, ()),
}
# Spellings met in ACLED's own files for the same sub-event type.
_SPELLINGS = {"excessive force against protestors": "excessive force against protesters"}
_KEYWORDS = dict(VIOLATION_KEYWORDS)

_EVENT_ID = re.compile(r"[A-Za-z]{2,4}[0-9]{1,12}")
_PUBLISHER = "ACLED {event_id} (timestamp {timestamp})"
_STORED = re.compile(r"ACLED (\S+) \(timestamp ([0-9]+)\)")
_DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y", "%d-%m-%Y")


def client_report_id(event_id: str) -> uuid.UUID:
    return uuid.uuid5(ACLED_NAMESPACE, f"acled:{event_id}")


def acled_source(event_id: str, timestamp: int) -> dict[str, str]:
    """The report's ACLED source: the event and the version of its row."""
    return {
        "kind": "monitor",
        "publisher": _PUBLISHER.format(event_id=event_id, timestamp=timestamp),
    }


def stored_version(sources: list[dict[str, object]]) -> int | None:
    """The ACLED ``timestamp`` a stored report shows, from its ACLED source (None if none)."""
    for source in sources:
        if source.get("kind") == "monitor":
            found = _STORED.fullmatch(str(source.get("publisher") or ""))
            if found:
                return int(found.group(2))
    return None


def violation_type(
    event_type: str, sub_event_type: str, notes: str | None
) -> ViolationType | None | str:
    """The violation type of an event, None for an event that is not a violation, or (a plain
    str, not a ``ViolationType``) why the types are not known."""
    sub = sub_event_type.casefold()
    key = (event_type.casefold(), _SPELLINGS.get(sub, sub))
    if key not in SUB_EVENTS:
        return f"event_type {event_type!r} with sub_event_type {sub_event_type!r}"
    kind, narrower = SUB_EVENTS[key]
    for candidate in narrower:
        if notes and _KEYWORDS[candidate].search(notes):
            return candidate
    return kind


def occurred_on(value: str | None) -> dt.date:
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(value or "", fmt).date()
        except ValueError:
            continue
    raise _Unreadable("event_date", value, "a date (YYYY-MM-DD or 15 January 2017)")


def sources(source: str | None) -> list[dict[str, str]]:
    """One media source per name; ACLED separates them with ";"."""
    names = [n.strip() for n in (source or "").split(";")]
    return [{"kind": "media", "publisher": name[:200]} for name in names if name]


def description(row: Mapping[str, str | None]) -> str | None:
    """The notes, and the associated actors that have no field of their own."""
    parts = [_text(row, "notes")]
    for side in ("1", "2"):
        associated = _text(row, f"assoc_actor_{side}")
        if associated:
            parts.append(f"Associated with actor {side}: {associated}")
    text = "\n\n".join(p for p in parts if p)
    return text or None


def to_report(row: Mapping[str, str | None], *, timezone: ZoneInfo) -> Mapped | Refusal | Skipped:
    """One ACLED row as a report to submit, why it cannot be one, or why it is left out."""
    event_id = _text(row, "event_id_cnty") or ""
    if not _EVENT_ID.fullmatch(event_id):
        return Refusal(
            event_id[:40] or "?",
            "no ACLED id",
            f"event_id_cnty {event_id[:40]!r} is not an ACLED event id",
        )
    event_type = _text(row, "event_type") or ""
    sub_event_type = _text(row, "sub_event_type") or ""
    kind = violation_type(event_type, sub_event_type, _text(row, "notes"))
    if kind is not None and not isinstance(kind, ViolationType):
        return Refusal(event_id, "unknown event type", f"{kind} is not in ACLED's codebook")
    if kind is None:
        return Skipped(
            event_id,
            f"not a violation: {event_type} / {sub_event_type}",
            f"{event_type} / {sub_event_type} is not a violation of a ceasefire",
        )
    try:
        timestamp = _int(row, "timestamp")
        if timestamp < 0:
            raise _Unreadable("timestamp", timestamp, "a time since 1970")
        on = occurred_on(_text(row, "event_date"))
        time_code = _int(row, "time_precision")
        geo_code = _int(row, "geo_precision")
        killed = _int(row, "fatalities", default=0)
    except _Unreadable as exc:
        return Refusal(event_id, f"unreadable {exc.column}", str(exc))

    if time_code not in TIME_PRECISION:
        return Refusal(event_id, "unknown time_precision", f"time_precision {time_code} is not 1-3")
    time_precision = TIME_PRECISION[time_code]
    if time_precision is None:
        return Refusal(event_id, "date too vague", f"time_precision {time_code}: only the month")

    if geo_code not in GEO_PRECISION:
        return Refusal(event_id, "unknown geo_precision", f"geo_precision {geo_code} is not 1-3")
    place: dict[str, object]
    if geo_code in POINT_PRECISIONS:
        try:
            point = [_float(row, "longitude"), _float(row, "latitude")]
        except _Unreadable as exc:
            return Refusal(event_id, f"unreadable {exc.column}", str(exc))
        place = {"location": {"type": "Point", "coordinates": point}}
    else:
        province = _text(row, "admin1")
        if province is None:
            return Refusal(
                event_id, "place too vague", f"geo_precision {geo_code} and no admin1 to name"
            )
        place = {"province": province}

    body = {
        "occurred_at": dt.datetime.combine(on, dt.time(LOCAL_HOUR), tzinfo=timezone),
        "time_precision": time_precision,
        **place,
        "place_name": _text(row, "location"),
        "geo_precision": GEO_PRECISION[geo_code],
        "violation_type": kind,
        "perpetrator": _text(row, "actor1"),
        "target": _text(row, "actor2"),
        "casualties": {
            "killed": killed,
            "civilians_killed": killed
            if event_type.casefold() == VIOLENCE_AGAINST_CIVILIANS and killed > 0
            else 0,
        },
        "description": description(row),
        "sources": [
            *sources(_text(row, "source"))[: MAX_SOURCES - 1],
            acled_source(event_id, timestamp),
        ],
        "client_report_id": client_report_id(event_id),
    }
    report = validated(body)
    if isinstance(report, tuple):
        return Refusal(event_id, *report)
    return Mapped(event_id, report, timestamp)
