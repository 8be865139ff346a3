"""Taking in reports: locate, attribute, classify, store, open or join an incident.

One code path for a single POST, a batch and an import: ``submit`` works on a list and does
its database work set-wise (one locating statement, one insert per table), so a batch of 500
costs a handful of round trips rather than thousands.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

# Every table, so that a foreign key column's type (given by the column it references) is
# known to REPORT_COLUMNS.
import service.models  # noqa: F401
from service import locks
from service.audit.service import Actor, record_many
from service.config import get_settings
from service.errors import Invalid, ServiceError
from service.event.models import recordset_type
from service.geography.service import AreaNames, Location, OutsideArea, area_rows, locate_many
from service.incident import correlation, corroboration
from service.incident import service as incidents
from service.incident.classify import classify
from service.party.service import PartyDirectory, PartyStanding
from service.report.models import Report
from service.report.reads import read_reports, report_from_row
from service.report.schemas import ReportCreate
from service.theatre.terms import Terms, load_terms

__all__ = ["Outcome", "Submitter", "read_reports", "report_from_row", "submit"]


@dataclass(frozen=True)
class Submitter:
    """Whose report this is: the reporter's key, and who acts (the same key, for the API)."""

    key_id: uuid.UUID
    actor: Actor


@dataclass
class Outcome:
    """What became of one submitted report: created, replayed, or refused."""

    status: int
    report: dict[str, Any] | None = None
    error: ServiceError | None = None
    created: bool = False
    # A refused corroboration, for the audit trail: (incident id, what it said, why).
    refusal: tuple[str, dict[str, Any], str] | None = None


def request_hash(report_in: ReportCreate) -> str:
    """Fingerprint of the request's meaning: key order and omitted defaults do not matter."""
    canonical = orjson.dumps(report_in.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def invalid_field(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", errors=[{"field": f"body.{field}", "message": message}])


def _party_columns(prefix: str, raw: str | None, standing: PartyStanding | None) -> dict[str, Any]:
    return {f"{prefix}_raw": raw, f"{prefix}_party_id": standing.id if standing else None}


# The columns ``attribute`` derives: who did it to whom, who answers, and the status.
ATTRIBUTION_COLUMNS = (
    "perpetrator_party_id",
    "target_party_id",
    "responsible_guarantors",
    "ceasefire_status",
)


def attribute(
    *,
    occurred_at: dt.datetime,
    perpetrator: str | None,
    target: str | None,
    directory: PartyDirectory,
    terms: Terms,
) -> dict[str, Any]:
    """The event's parties as of its own local day, its responsible guarantors and its
    ceasefire status: the one attribution of intake, revision and re-attribution after a
    curation act (``service.curation``)."""
    on = terms.local_date(occurred_at)
    perpetrator_standing = directory.resolve_actor(perpetrator, on) if perpetrator else None
    if perpetrator_standing is not None and perpetrator_standing.target_only:
        perpetrator_standing = None  # e.g. civilians: only ever a target; the name is kept
    target_standing = directory.resolve_actor(target, on) if target else None
    verdict = classify(
        occurred_at=occurred_at,
        perpetrator=perpetrator_standing,
        target=target_standing,
        terms=terms,
    )
    return {
        **_party_columns("perpetrator", perpetrator, perpetrator_standing),
        **_party_columns("target", target, target_standing),
        "responsible_guarantors": list(verdict.responsible_guarantors),
        "ceasefire_status": verdict.ceasefire_status.value,
    }


def _check_time(report_in: ReportCreate, now: dt.datetime) -> Invalid | None:
    settings = get_settings()
    skew = dt.timedelta(seconds=settings.clock_skew_s)
    if report_in.occurred_at > now + skew:
        return invalid_field(
            "occurred_at",
            f"{report_in.occurred_at.isoformat()} is in the future (the server's time is"
            f" {now.isoformat(timespec='seconds')})",
        )
    if report_in.occurred_at.year < settings.earliest_year:
        return invalid_field(
            "occurred_at", f"before {settings.earliest_year}: not a plausible report"
        )
    return None


def _place(
    report_in: ReportCreate, located: Location | OutsideArea | None, provinces: AreaNames
) -> dict[str, Any] | Invalid:
    given = None
    if report_in.province is not None:
        given = provinces.resolve(report_in.province)
        if given is None:
            return invalid_field("province", f"no province is known as {report_in.province!r}")
    if isinstance(located, OutsideArea):
        return Invalid(
            f"location: {located.detail}",
            errors=[{"field": "body.location", "message": located.detail}],
        )
    if located is not None:
        if given is not None and given.pcode != located.province.pcode:
            return invalid_field(
                "province",
                f"{given.name_en} ({given.pcode}) contradicts the location, which is in"
                f" {located.province.name_en} ({located.province.pcode})",
            )
        lon, lat = report_in.location.coordinates  # type: ignore[union-attr]
        return {
            "geom": f"SRID=4326;POINT({lon!r} {lat!r})",
            "province_pcode": located.province.pcode,
            "district_pcode": located.district.pcode if located.district else None,
            "location_match": located.match,
            "location_distance_km": located.distance_km if located.match == "nearest" else None,
        }
    assert given is not None  # the schema demands a location or a province
    return {
        "geom": None,
        "province_pcode": given.pcode,
        "district_pcode": None,
        "location_match": "province_only",
        "location_distance_km": None,
    }


def _derive(
    report_in: ReportCreate,
    *,
    place: dict[str, Any],
    directory: PartyDirectory,
    terms: Terms,
) -> dict[str, Any]:
    casualties = report_in.casualties
    return {
        "occurred_at": report_in.occurred_at,
        "time_precision": report_in.time_precision.value,
        "geo_precision": report_in.geo_precision,
        "place_name": report_in.place_name,
        "violation_type": report_in.violation_type.value,
        **place,
        **attribute(
            occurred_at=report_in.occurred_at,
            perpetrator=report_in.perpetrator,
            target=report_in.target,
            directory=directory,
            terms=terms,
        ),
        "killed": casualties.killed if casualties else 0,
        "injured": casualties.injured if casualties else 0,
        "civilians_killed": casualties.civilians_killed if casualties else 0,
        "description": report_in.description,
        "sources": [s.model_dump(mode="json", exclude_none=True) for s in report_in.sources],
    }


# Every column of a new report, with its SQL type (from the model, whose event columns are
# ``EventColumns``): the rows travel as one JSON array and are inserted by a single statement
# (jsonb_to_recordset), whatever the batch size. Each row gives every column.
REPORT_COLUMNS = {column.key: recordset_type(column) for column in Report.__table__.columns}
_INSERT_REPORTS = text(
    f"INSERT INTO reports ({', '.join(REPORT_COLUMNS)}) SELECT "
    + ", ".join("ST_GeomFromEWKT(x.geom)" if c == "geom" else f"x.{c}" for c in REPORT_COLUMNS)
    + " FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x("
    + ", ".join(f"{c} {t}" for c, t in REPORT_COLUMNS.items())
    # Rows go in a fixed order, so two batches sharing client_report_ids cannot deadlock.
    + ") ORDER BY x.client_report_id"
    + " ON CONFLICT ON CONSTRAINT uq_reports_reporter_client DO NOTHING RETURNING id"
)


def _rows_json(rows: list[dict[str, Any]]) -> str:
    return orjson.dumps(rows, default=str).decode()


# The tables the reference lookups read (``load_terms``, ``PartyDirectory.load``,
# ``AreaNames.load``, ``area_rows``; ``tests/integration/test_reference_cache.py`` holds this
# list equal to what they scan). Each one's row count, and the sums of its rows' xmin and
# cmin, change with every insert, update or delete: a row written again gets a newer
# transaction's id, or within one transaction a later command's (cmin). One statement tells
# whether the reference data is as it was loaded. (A concurrent writer's lock or rolled-back
# delete can move cmin too: that costs a load, never a stale copy.)
REFERENCE_TABLES = (
    "theatres",
    "parties",
    "party_coverage",
    "party_guarantors",
    "party_aliases",
    "party_coalitions",
    "party_coalition_members",
    "admin_area_names",
    "admin_areas",
)
_REFERENCE_STATE = text(
    "SELECT concat_ws(' ', current_database(), "
    + ", ".join(
        f"(SELECT concat_ws(':', count(*), sum(xmin::text::bigint), sum(cmin::text::bigint))"
        f" FROM {table})"
        for table in REFERENCE_TABLES
    )
    + ")"
)


@dataclass(frozen=True)
class _Reference:
    """The reference data an intake reads, as loaded in one state of ``REFERENCE_TABLES``."""

    state: str
    loaded_at: float  # time.monotonic()
    terms: Terms
    directory: PartyDirectory
    provinces: AreaNames
    areas: dict[str, Any]


class _ReferenceCache:
    """The reference data last loaded in this process, shared by every intake (requests,
    batches, an import's chunks) while the tables stay in the state it was loaded in: an
    intake reads one row to know, not seven queries' worth of tables. Replaced whole (one
    assignment), so threads see either the old or the new."""

    last: _Reference | None = None
    # Served for a minute at most, whatever the state says. One thing can hide a change from
    # the state: VACUUM freezing a row rewritten since (its xmin then reads 2), which takes
    # some 50 million transactions (vacuum_freeze_min_age) without an intake reading it.
    MAX_AGE_S = 60.0

    @classmethod
    def read(cls, session: Session) -> _Reference:
        # The state is read before the tables: a change committed in between makes the
        # loaded copy newer than its state, so the next intake finds another state and
        # loads again; the copy is never older than the state it is kept under.
        state = session.execute(_REFERENCE_STATE).scalar_one()
        last, now = cls.last, time.monotonic()
        if last is not None and last.state == state and now - last.loaded_at < cls.MAX_AGE_S:
            return last
        loaded = _Reference(
            state=state,
            loaded_at=now,
            terms=load_terms(session),
            directory=PartyDirectory.load(session),
            provinces=AreaNames.load(session),
            areas=area_rows(session),
        )
        cls.last = loaded
        return loaded


@dataclass(frozen=True)
class Lookups:
    """What deriving a report needs: the clock, once per request or batch, and the reference
    data (terms, parties, areas), loaded again whenever it has changed."""

    now: dt.datetime
    terms: Terms
    directory: PartyDirectory
    provinces: AreaNames
    areas: dict[str, Any]  # ``area_rows``: every area's name and parent, by P-code

    @classmethod
    def load(cls, session: Session) -> Lookups:
        # Shared with every intake, exclusive to a curation act (service.party.curation): an
        # act waits for the intakes that read the directory before it, and the intakes after
        # it read the act's directory, so its re-attribution job misses no report. Taken in
        # the same round trip as the clock, as is turning JIT off for the transaction: the
        # planner's estimates for a batch's statements (JSON recordsets, arrays of ids,
        # tables that grew faster than their statistics) call for JIT, which costs more
        # (100-250 ms a statement here) than the statements themselves. The reference data
        # is read by the statements after it, which see what an act committed before the
        # lock was granted.
        namespace, key = locks.advisory_key(locks.PARTY_CURATION)
        now = session.execute(
            text(
                "SELECT now(), set_config('jit', 'off', true)"
                " FROM pg_advisory_xact_lock_shared(:ns, :key)"
            ),
            {"ns": namespace, "key": key},
        ).scalar_one()
        reference = _ReferenceCache.read(session)
        return cls(
            now=now,
            terms=reference.terms,
            directory=reference.directory,
            provinces=reference.provinces,
            areas=reference.areas,
        )


def derive_many(
    *, session: Session, reports_in: list[ReportCreate], lookups: Lookups
) -> list[dict[str, Any] | Invalid]:
    """Each report's stored columns (time checked, located, attributed, classified), or why
    it is refused. Every point is located by one statement. Shared by submit and revise."""
    with_point = [i for i, r in enumerate(reports_in) if r.location is not None]
    located: dict[int, Location | OutsideArea] = dict(
        zip(
            with_point,
            locate_many(
                session=session,
                points=[tuple(reports_in[i].location.coordinates) for i in with_point],  # type: ignore[union-attr,misc]
                areas=lookups.areas,
            ),
            strict=True,
        )
    )
    derived: list[dict[str, Any] | Invalid] = []
    for i, report_in in enumerate(reports_in):
        problem = _check_time(report_in, lookups.now)
        place = _place(report_in, located.get(i), lookups.provinces) if problem is None else problem
        if isinstance(place, Invalid):
            derived.append(place)
        else:
            derived.append(
                _derive(report_in, place=place, directory=lookups.directory, terms=lookups.terms)
            )
    return derived


def _claims(
    session: Session, reports_in: list[ReportCreate], derived: list[dict[str, Any] | Invalid]
) -> dict[int, corroboration.Verdict]:
    """The verdict on each valid report naming an incident (by index), from one statement
    for the whole batch, the incidents locked until commit."""
    wanted = [
        i
        for i, r in enumerate(reports_in)
        if r.incident_id is not None and not isinstance(derived[i], Invalid)
    ]
    claims = []
    for i in wanted:
        row = derived[i]
        assert not isinstance(row, Invalid)
        claims.append(claim_of(row, reports_in[i].incident_id))  # type: ignore[arg-type]
    return dict(zip(wanted, corroboration.check_claims(session, claims), strict=True))


def _already_stored(
    session: Session,
    submitter: Submitter,
    reports_in: list[ReportCreate],
    verdicts: dict[int, corroboration.Verdict],
) -> set[int]:
    """Refused claims that are retries of a report this key already stored with the same
    body (its incident merged or rejected since): replayed as stored, not refused."""
    refused = {
        i: request_hash(reports_in[i])
        for i, v in verdicts.items()
        if not v.linked and reports_in[i].client_report_id is not None
    }
    if not refused:
        return set()
    found = {
        (row.client_report_id, row.request_hash)
        for row in session.execute(
            text(
                "SELECT client_report_id, request_hash FROM reports"
                " WHERE reporter_key_id = :key AND client_report_id = ANY(:client_ids)"
            ),
            {
                "key": submitter.key_id,
                "client_ids": [reports_in[i].client_report_id for i in refused],
            },
        )
    }
    return {i for i, h in refused.items() if (reports_in[i].client_report_id, h) in found}


def claim_of(row: dict[str, Any], incident_id: uuid.UUID) -> corroboration.Claim:
    """A derived report as a claim on ``incident_id``."""
    return corroboration.Claim(
        incident_id=incident_id,
        occurred_at=row["occurred_at"],
        violation_type=row["violation_type"],
        geom=row["geom"],
        province_pcode=row["province_pcode"],
    )


def _attempt(report_in: ReportCreate, row: dict[str, Any]) -> dict[str, Any]:
    """What a refused claim said, for the audit trail (the report itself is not stored)."""
    return {
        "client_report_id": report_in.client_report_id,
        "occurred_at": row["occurred_at"],
        "violation_type": row["violation_type"],
        "location": report_in.location.coordinates if report_in.location else None,
        "province_pcode": row["province_pcode"],
        "casualties": {k: row[k] for k in ("killed", "injured", "civilians_killed")},
    }


def record_refusals(session: Session, *, actor: Actor, outcomes: list[Outcome]) -> None:
    """Audit every refused corroboration, one statement (``report.corroboration_refused``,
    on the incident named, the reason as the reason)."""
    events = [o.refusal for o in outcomes if o.refusal is not None]
    record_many(
        session,
        actor=actor,
        action="report.corroboration_refused",
        entity_type="incident",
        events=[(entity_id, None, attempt) for entity_id, attempt, _ in events],
        reasons=[reason for _, _, reason in events],
    )


def _opening(
    new_rows: dict[int, dict[str, Any]], minted: set[uuid.UUID]
) -> tuple[list[uuid.UUID], list[dict[str, Any]]]:
    """The stored reports that open an incident (the first stored report of each incident
    id correlation minted: the report that opened it may be a replay, not stored), and the
    rows that join one."""
    opened, joined, seen = [], [], set()
    for i in sorted(new_rows):
        row = new_rows[i]
        if row["incident_id"] in minted and row["incident_id"] not in seen:
            seen.add(row["incident_id"])
            opened.append(row["id"])
        else:
            joined.append(row)
    return opened, joined


class _StoredRow:
    """A report row just inserted, with the names ``read_reports`` would join to it."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _as_read(row: dict[str, Any], report_in: ReportCreate, lookups: Lookups) -> dict[str, Any]:
    """A report just inserted as ``read_reports`` would read it back, without the round trip
    and the decoding: the same row, names from the lookups, the point as given (stored
    exactly: ``_place`` writes it with ``repr``), times in the connection's zone (as read).
    ``tests/integration/test_submit_reads.py`` holds the two equal."""
    names = lookups.areas
    directory = lookups.directory
    lon, lat = report_in.location.coordinates if report_in.location else (None, None)
    perpetrator, target = row["perpetrator_party_id"], row["target_party_id"]
    zone = lookups.now.tzinfo
    stored = _StoredRow(
        {
            **row,
            "occurred_at": row["occurred_at"].astimezone(zone),
            "lon": None if lon is None else float(lon),
            "lat": None if lat is None else float(lat),
            "province_name": names[row["province_pcode"]].ref.name_en,
            "district_name": (
                names[row["district_pcode"]].ref.name_en if row["district_pcode"] else None
            ),
            "perpetrator_name": directory.name_of(perpetrator) if perpetrator else None,
            "target_name": directory.name_of(target) if target else None,
            "reporter_name": None,
        }
    )
    return report_from_row(stored)


def submit(
    *, session: Session, submitter: Submitter, reports_in: list[ReportCreate]
) -> list[Outcome]:
    """Store the valid reports (new incidents or corroborations) and say what became of each.

    Does not commit: the caller commits once, then answers. A report whose
    ``client_report_id`` this reporter already used is replayed when the body is the same
    and refused when it differs.
    """
    if not reports_in:
        return []  # nothing to look up (an import's chunk of records already stored)
    outcomes: list[Outcome | None] = [None] * len(reports_in)
    lookups = Lookups.load(session)
    now = lookups.now
    derived = derive_many(session=session, reports_in=reports_in, lookups=lookups)
    verdicts = _claims(session, reports_in, derived)
    stored = _already_stored(session, submitter, reports_in, verdicts)

    rows: dict[int, dict[str, Any]] = {}
    for i, report_in in enumerate(reports_in):
        row = derived[i]
        verdict = verdicts.get(i)
        if verdict is not None and not verdict.linked and i not in stored:
            assert not isinstance(row, Invalid) and verdict.reason is not None
            problem = invalid_field("incident_id", verdict.reason)
            outcomes[i] = Outcome(
                status=problem.status,
                error=problem,
                refusal=(str(report_in.incident_id), _attempt(report_in, row), verdict.reason),
            )
            continue
        if isinstance(row, Invalid):
            outcomes[i] = Outcome(status=row.status, error=row)
            continue
        row.update(
            id=uuid.uuid4(),
            reporter_key_id=submitter.key_id,
            client_report_id=report_in.client_report_id,
            incident_id=report_in.incident_id,
            correlation=None,
            request_hash=request_hash(report_in),
            revision=1,
            created_at=now,
            updated_at=now,
        )
        rows[i] = row

    # Reports naming no incident: automatic correlation picks one, or a new id.
    minted = correlation.correlate(
        session,
        reporter_key_id=submitter.key_id,
        reports=[row for i, row in rows.items() if reports_in[i].incident_id is None],
    )
    inserted: set[uuid.UUID] = set()
    if rows:
        inserted = set(
            session.execute(_INSERT_REPORTS, {"rows": _rows_json(list(rows.values()))}).scalars()
        )
    new_rows = {i: row for i, row in rows.items() if row["id"] in inserted}
    opened, joined = _opening(new_rows, minted)
    incidents.open_for_reports(session, opened)
    held = incidents.refresh(session, [row["incident_id"] for row in joined])
    # A reviewed incident's published figures stay; each report held for review is audited.
    record_many(
        session,
        actor=submitter.actor,
        action="incident.corroboration_pending",
        entity_type="incident",
        events=[
            (
                str(row["incident_id"]),
                held[row["incident_id"]]["published"],
                {
                    "report_id": str(row["id"]),
                    "reporter_key_id": str(submitter.key_id),
                    "report_casualties": {
                        k: row[k] for k in ("killed", "injured", "civilians_killed")
                    },
                    "proposed": held[row["incident_id"]]["proposed"],
                },
            )
            for row in joined
            if row["incident_id"] in held
        ],
    )

    # client_report_id already used by this reporter: the same body is a retry, replayed.
    replays = [i for i in rows if rows[i]["id"] not in inserted]
    existing = {}
    if replays:
        existing = {
            r.client_report_id: r
            for r in session.execute(
                text(
                    "SELECT id, client_report_id, request_hash FROM reports"
                    " WHERE reporter_key_id = :key AND client_report_id = ANY(:client_ids)"
                ),
                {
                    "key": submitter.key_id,
                    "client_ids": [rows[i]["client_report_id"] for i in replays],
                },
            )
        }
    for i in replays:
        row = rows[i]
        found = existing[row["client_report_id"]]
        if found.request_hash == row["request_hash"]:
            row["id"] = found.id
            outcomes[i] = Outcome(status=201, created=False)
        else:
            problem = invalid_field(
                "client_report_id",
                f"{row['client_report_id']} was already used for a different report ({found.id})",
            )
            outcomes[i] = Outcome(status=problem.status, error=problem)

    # What was just inserted reads back as it was given (``_as_read``); replays are read.
    wanted = [rows[i]["id"] for i, o in enumerate(outcomes) if o is not None and o.status == 201]
    reads = {r["id"]: r for r in read_reports(session=session, ids=wanted)}
    for i in new_rows:
        reads[rows[i]["id"]] = _as_read(rows[i], reports_in[i], lookups)
    for i, row in rows.items():
        if outcomes[i] is None:
            outcomes[i] = Outcome(status=201, report=reads[row["id"]], created=True)
        elif outcomes[i].status == 201:  # type: ignore[union-attr]
            outcomes[i].report = reads[row["id"]]  # type: ignore[union-attr]

    created = [reads[rows[i]["id"]] for i in new_rows]
    store_revisions(
        session, actor_key_id=submitter.actor.key_id or submitter.key_id, reports=created
    )
    record_refusals(session, actor=submitter.actor, outcomes=outcomes)  # type: ignore[arg-type]
    record_many(
        session,
        actor=submitter.actor,
        action="report.created",
        entity_type="report",
        events=[
            (str(r["id"]), None, {"incident_id": str(r["incident_id"]), "revision": r["revision"]})
            for r in created
        ],
    )
    return outcomes  # type: ignore[return-value]


def store_revisions(
    session: Session, *, actor_key_id: uuid.UUID, reports: list[dict[str, Any]]
) -> None:
    """Keep each report as it now reads, under its revision number."""
    if not reports:
        return
    session.execute(
        _INSERT_REVISIONS,
        {
            "actor_key_id": actor_key_id,
            "revisions": orjson.dumps(
                [
                    {
                        "report_id": r["id"],
                        "revision": r["revision"],
                        "snapshot": {k: v for k, v in r.items() if k != "reporter"},
                        "created_at": r["updated_at"],
                    }
                    for r in reports
                ],
                default=str,
            ).decode(),
        },
    )


# One statement per batch, whatever its size: the revisions as one JSON document.
_INSERT_REVISIONS = text(
    "INSERT INTO report_revisions (report_id, revision, actor_key_id, snapshot, created_at)"
    " SELECT v.report_id, v.revision, CAST(:actor_key_id AS uuid), v.snapshot, v.created_at"
    " FROM jsonb_to_recordset(CAST(:revisions AS jsonb))"
    " AS v(report_id uuid, revision int, snapshot jsonb, created_at timestamptz)"
)
