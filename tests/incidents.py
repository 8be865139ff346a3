"""Making incidents the way the service does (through report submission), for digest tests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from service.report.schemas import ReportCreate
from service.report.service import Submitter, submit

IDLEB = [36.63, 35.93]  # SY07
ALEPPO = [37.16, 36.20]  # SY02
DARAA = [36.10, 32.62]  # SY12


def report(**fields: Any) -> ReportCreate:
    body: dict[str, Any] = {
        "occurred_at": "2017-01-10T09:30:00+02:00",
        "location": {"type": "Point", "coordinates": IDLEB},
        "violation_type": "shelling",
        "perpetrator": "Syrian Arab Army",
        "target": "Ahrar al-Sham",
        "casualties": {"killed": 1, "injured": 2, "civilians_killed": 0},
    }
    if "at" in fields:
        body["occurred_at"] = fields.pop("at")
    if "where" in fields:
        body["location"] = {"type": "Point", "coordinates": fields.pop("where")}
    body.update(fields)
    return ReportCreate.model_validate({k: v for k, v in body.items() if v is not None})


def submitter_for(principal: Any) -> Submitter:
    return Submitter(key_id=principal.key_id, actor=principal.actor)


def make_incidents(db: Any, submitter: Submitter, *reports: ReportCreate) -> list[uuid.UUID]:
    """Submit the reports; each opens an incident. Returns the incident ids, in order."""
    outcomes = submit(session=db, submitter=submitter, reports_in=list(reports))
    assert all(o.status == 201 for o in outcomes), [o.error for o in outcomes if o.error]
    return [o.report["incident_id"] for o in outcomes]


def set_status(db: Any, ids: list[uuid.UUID], status: str) -> None:
    """Review outcome set directly (the review endpoint is another piece of work)."""
    if status == "merged":
        raise ValueError("use merge()")
    db.execute(
        text("UPDATE incidents SET status = :status WHERE id = ANY(:ids)"),
        {"status": status, "ids": ids},
    )


def merge(db: Any, duplicate: uuid.UUID, into: uuid.UUID) -> None:
    db.execute(
        text("UPDATE incidents SET status = 'merged', merged_into_id = :into WHERE id = :id"),
        {"into": into, "id": duplicate},
    )
