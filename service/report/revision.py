"""Revising a report while its incident is unverified, and every revision kept.

A revision goes through the same derivation as a submission (``derive_many``): location,
attribution and classification are recomputed, then the incident is refreshed.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.audit.service import Actor, record
from service.errors import Conflict, Forbidden, Invalid, NotFound
from service.incident import corroboration
from service.incident import service as incidents
from service.report.intake import validation_problem
from service.report.reads import get_report, read_reports
from service.report.schemas import ReportCreate, ReportUpdate
from service.report.service import Lookups, claim_of, derive_many, store_revisions

# Columns a revision may change (all derived from the submission, as in submit).
_DERIVED = (
    "occurred_at", "time_precision", "geo_precision", "place_name", "violation_type",
    "province_pcode", "district_pcode", "location_match", "location_distance_km",
    "perpetrator_raw", "perpetrator_party_id", "target_raw", "target_party_id",
    "ceasefire_status", "killed", "injured", "civilians_killed", "description",
)  # fmt: skip
_UPDATE = text(
    "UPDATE reports SET "
    + ", ".join(f"{c} = :{c}" for c in _DERIVED)
    + ", geom = ST_GeomFromEWKT(:geom)"
    + ", responsible_guarantors = CAST(:responsible_guarantors AS varchar[])"
    + ", sources = CAST(:sources AS jsonb)"
    + ", revision = revision + 1, updated_at = now()"
    + " WHERE id = :id"
)
# Fields that change with every revision and say nothing about what was revised.
_BOOKKEEPING = {"revision", "updated_at"}


def _as_submitted(report: dict[str, Any]) -> dict[str, Any]:
    """The stored report as the submission that would store it again."""
    return {
        "occurred_at": report["occurred_at"].isoformat(),
        "time_precision": report["time_precision"],
        "location": report["location"],
        # A province given with a point only checked it: a new point re-derives it.
        "province": None if report["location"] else report["province"]["pcode"],
        "place_name": report["place_name"],
        "geo_precision": report["geo_precision"],
        "violation_type": report["violation_type"],
        "perpetrator": report["perpetrator"]["raw"],
        "target": report["target"]["raw"],
        "casualties": report["casualties"],
        "description": report["description"],
        "sources": report["sources"],
    }


def _lock(
    session: Session, *, report_id: uuid.UUID, key_id: uuid.UUID, hide_others: bool
) -> uuid.UUID:
    """Lock the report's incident, then the report (the order merges and reviews use), and
    return the incident's id. Another reporter's report is "not found" when ``hide_others``."""
    found = session.execute(
        text("SELECT incident_id, reporter_key_id FROM reports WHERE id = :id"),
        {"id": report_id},
    ).first()
    if found is None or (found.reporter_key_id != key_id and hide_others):
        raise NotFound(f"no report {report_id}")
    if found.reporter_key_id != key_id:
        raise Forbidden("only the reporter who submitted a report may revise it")
    status = session.execute(
        text("SELECT status FROM incidents WHERE id = :id FOR UPDATE"), {"id": found.incident_id}
    ).scalar_one()
    still = session.execute(
        text("SELECT incident_id FROM reports WHERE id = :id FOR UPDATE"), {"id": report_id}
    ).scalar_one()
    if still != found.incident_id:
        raise Conflict(
            "the report's incident was merged while revising it; retry",
            headers={"Retry-After": "1"},
        )
    if status != "unverified":
        raise Conflict(
            f"the report's incident is {status}: a report can be revised only while its"
            " incident is unverified"
        )
    return found.incident_id


def _still_plausible(
    session: Session, *, report_id: uuid.UUID, incident_id: uuid.UUID, derived: dict[str, Any]
) -> None:
    """A report sharing its incident with others stays a plausible corroboration of it: a
    revision cannot move it (its type, place or time) where a new claim would be refused.
    (A revision cannot name another incident: ``incident_id`` is not a revisable field.)"""
    others = session.execute(
        text("SELECT count(*) FROM reports WHERE incident_id = :incident AND id <> :id"),
        {"incident": incident_id, "id": report_id},
    ).scalar_one()
    if not others:
        return
    [verdict] = corroboration.check_claims(session, [claim_of(derived, incident_id)])
    if not verdict.linked:
        raise Invalid(
            f"the revised report would no longer corroborate its incident: {verdict.reason}",
            errors=[{"field": "body", "message": verdict.reason}],
        )


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    changed = [k for k in after if k not in _BOOKKEEPING and before.get(k) != after[k]]
    return (
        {"revision": before["revision"], **{k: before.get(k) for k in changed}},
        {"revision": after["revision"], **{k: after[k] for k in changed}},
    )


def revise_report(
    *,
    session: Session,
    report_id: uuid.UUID,
    key_id: uuid.UUID,
    actor: Actor,
    update: ReportUpdate,
    hide_others: bool,
    lookups: Lookups | None = None,
) -> dict[str, Any]:
    """Store a new revision of the report by its own reporter (``key_id``). Does not commit.

    The fields given replace the stored ones; an explicit null clears an optional field.
    ``lookups`` loaded earlier in the same transaction may be given (an import revising many
    reports loads them once per chunk).
    """
    fields = update.model_dump(mode="json", exclude_unset=True)
    reason = fields.pop("reason", None)
    if not fields:
        raise Invalid("nothing to revise: give at least one field of the report")
    incident_id = _lock(session, report_id=report_id, key_id=key_id, hide_others=hide_others)
    [before] = read_reports(session=session, ids=[report_id])

    submission = {**_as_submitted(before), **fields}
    if "location" in fields and fields["location"] is None and "province" not in fields:
        submission["province"] = before["province"]["pcode"]  # keep the area, drop the point
    if submission["sources"] is None:
        submission["sources"] = []
    try:
        report_in = ReportCreate.model_validate(submission)
    except ValidationError as exc:
        raise validation_problem(exc) from exc
    if lookups is None:
        lookups = Lookups.load(session)
    [derived] = derive_many(session=session, reports_in=[report_in], lookups=lookups)
    if isinstance(derived, Invalid):
        raise derived
    _still_plausible(session, report_id=report_id, incident_id=incident_id, derived=derived)

    session.execute(
        _UPDATE,
        {
            **{c: derived[c] for c in _DERIVED},
            "geom": derived["geom"],
            "responsible_guarantors": derived["responsible_guarantors"],
            "sources": orjson.dumps(derived["sources"]).decode(),
            "id": report_id,
        },
    )
    incidents.refresh(session, [incident_id])
    [after] = read_reports(session=session, ids=[report_id])
    store_revisions(session, actor_key_id=key_id, reports=[after])
    old, new = _changes(before, after)
    record(
        session,
        actor=actor,
        action="report.revised",
        entity_type="report",
        entity_id=str(report_id),
        before=old,
        after=new,
        reason=reason,
    )
    return after


def report_history(
    *, session: Session, report_id: uuid.UUID, reporter_key_id: uuid.UUID | None
) -> list[dict[str, Any]]:
    """Every revision of a report, oldest first (visible to whoever may see the report)."""
    get_report(
        session=session, report_id=report_id, reporter_key_id=reporter_key_id, with_reporter=False
    )
    rows = session.execute(
        text(
            "SELECT revision, created_at, snapshot FROM report_revisions"
            " WHERE report_id = :id ORDER BY revision"
        ),
        {"id": report_id},
    )
    return [
        {"revision": row.revision, "recorded_at": row.created_at, "report": row.snapshot}
        for row in rows
    ]
