"""The one reader of event filters: raw query values in, resolved ``EventFilters`` out.

Every reader of events feeds it (``/v1`` lists through ``service.event.dependencies``, the
map routes through ``Params``; digests and subscriptions use geography's
``resolve_province``, as this does), so the same bad value is refused alike everywhere: a
400 ``invalid-parameter`` problem with the same message.

**Parties are matched as of each event's date.** A report's perpetrator and target are
resolved to party ids at intake, as of the day the event occurred (``PartyDirectory
.resolve_actor(name, occurred_on)``). So a filter resolves a name to the ids it denotes and
matches the stored ids; the server's date plays no part. Aliases carry no validity of their
own (a normalised alias names one party: ``party_aliases.alias_norm`` is its key), so every
party a name may denote is found by the alias table alone; what varies with the date
(coverage, guarantors) was applied at intake and is stored with the event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import InvalidParameter
from service.event.filters import BBox, EventFilters, TimeRange, parse_instant
from service.event.parameters import CONFIDENCE_PARAM, STATUS_PARAM
from service.event.terms import CeasefireStatus, ConfidenceBand, IncidentStatus, ViolationType
from service.geography.service import AreaNames, resolve_province
from service.text import normalise_name

# Each parameter's raw values: one per occurrence in the query.
RawValues = Mapping[str, Sequence[str]]
_MAX_NAME_LENGTH = 300


def theatre_timezone(session: Session) -> ZoneInfo:
    return ZoneInfo(session.execute(text("SELECT theatre_timezone()")).scalar_one())


def _items(name: str, raw: Sequence[str]) -> tuple[str, ...]:
    """Comma-separated values, over every occurrence, in order, without repeats."""
    values = tuple(dict.fromkeys(v.strip() for part in raw for v in part.split(",")))
    if not values or "" in values:
        raise InvalidParameter(name, "an empty value")
    return values


def _one(name: str, raw: Sequence[str]) -> str:
    values = list(dict.fromkeys(v.strip() for v in raw))
    if len(values) != 1:
        raise InvalidParameter(name, "give one value")
    if not values[0]:
        raise InvalidParameter(name, "an empty value")
    if len(values[0]) > _MAX_NAME_LENGTH:
        raise InvalidParameter(name, f"longer than {_MAX_NAME_LENGTH} characters")
    return values[0]


def _terms(name: str, raw: Sequence[str] | None, known: type[StrEnum]) -> tuple[str, ...] | None:
    if raw is None:
        return None
    values = _items(name, raw)
    allowed = {m.value for m in known}
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise InvalidParameter(
            name,
            f"{', '.join(repr(v) for v in unknown)} is not one of {', '.join(sorted(allowed))}",
        )
    return values


def _provinces(session: Session, raw: Sequence[str] | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    names = AreaNames.load(session)
    pcodes = [
        resolve_province(session=session, name=name, names=names).pcode
        for name in _items("province", raw)
    ]
    return tuple(sorted(set(pcodes)))


def _guarantor(session: Session, raw: Sequence[str] | None) -> str | None:
    if raw is None:
        return None
    value = _one("guarantor", raw)
    known = list(session.execute(text("SELECT id FROM guarantors ORDER BY id")).scalars())
    if value.upper() not in known:
        raise InvalidParameter("guarantor", f"{value!r} is not one of {', '.join(known)}")
    return value.upper()


def party_ids(*, session: Session, name: str) -> tuple[str, ...]:
    """Every party a name (id, name or alias) denotes: what events store, as resolved for
    their own dates (see the module's docstring)."""
    return tuple(
        session.execute(
            text("SELECT DISTINCT party_id FROM party_aliases WHERE alias_norm = :norm"),
            {"norm": normalise_name(name)},
        ).scalars()
    )


def _party(session: Session, raw: Sequence[str] | None) -> str | None:
    if raw is None:
        return None
    name = _one("party", raw)
    ids = party_ids(session=session, name=name)
    if not ids:
        raise InvalidParameter("party", f"no party is known as {name!r}")
    return ids[0]


def _times(raw: RawValues, timezone: Callable[[], ZoneInfo]) -> TimeRange:
    """``datetime`` (an OGC instant or interval) narrowed by ``since`` and ``until``."""
    times = TimeRange()
    if raw.get("datetime") is not None:
        times = TimeRange.parse(_one("datetime", raw["datetime"]), timezone())
    since, until = times.since, times.until
    if raw.get("since") is not None:
        at = parse_instant(_one("since", raw["since"]), timezone(), "since")[0]
        since = at if since is None else max(since, at)
    if raw.get("until") is not None:
        at = parse_instant(_one("until", raw["until"]), timezone(), "until")[0]
        until = at if until is None else min(until, at)
    if since is not None and until is not None and since >= until:
        name = "until" if raw.get("until") is not None else "datetime"
        raise InvalidParameter(name, "the window ends before it starts")
    return TimeRange(since, until)


def read_filters(
    *, session: Session, raw: RawValues, timezone: ZoneInfo | None = None
) -> EventFilters:
    """The filters named in ``raw`` (absent ones unfiltered), validated and resolved.
    ``timezone`` is the theatre's (read from the database when not given and needed)."""
    zone: list[ZoneInfo] = [timezone] if timezone is not None else []

    def theatre_zone() -> ZoneInfo:
        if not zone:
            zone.append(theatre_timezone(session))
        return zone[0]

    times = _times(raw, theatre_zone)
    bbox = raw.get("bbox")
    return EventFilters(
        provinces=_provinces(session, raw.get("province")),
        violation_types=_terms("violation_type", raw.get("violation_type"), ViolationType),
        ceasefire_statuses=_terms("ceasefire_status", raw.get("ceasefire_status"), CeasefireStatus),
        guarantor=_guarantor(session, raw.get("guarantor")),
        party=_party(session, raw.get("party")),
        statuses=_terms(STATUS_PARAM, raw.get(STATUS_PARAM), IncidentStatus),
        confidences=_terms(CONFIDENCE_PARAM, raw.get(CONFIDENCE_PARAM), ConfidenceBand),
        since=times.since,
        until=times.until,
        bbox=BBox.parse_ogc(_one("bbox", bbox)) if bbox is not None else None,
    )
