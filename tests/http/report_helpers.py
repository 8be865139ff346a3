"""Shared by the report, incident and audit API tests: bodies, headers, row counts."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

IDLEB = [36.63, 35.93]  # inside Idleb (SY07)


def report_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "occurred_at": "2017-01-10T09:30:00+02:00",
        "location": {"type": "Point", "coordinates": list(IDLEB)},
        "violation_type": "shelling",
        "perpetrator": "Syrian Arab Army",
        "target": "Ahrar al-Sham",
        "casualties": {"killed": 3, "injured": 5, "civilians_killed": 1},
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def auth(secret: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", **headers}


def new_key() -> str:
    return str(uuid.uuid4())


def count(db, table: str, where: str = "true", **params: Any) -> int:
    return db.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params).scalar_one()


def counts(db) -> dict[str, int]:
    """Rows in every table a write may touch: compared before and after a refused request."""
    tables = (
        "reports",
        "incidents",
        "report_revisions",
        "idempotency_keys",
        "audit_events",
        "parties",
        "party_aliases",
        "party_guarantors",
        "party_coalitions",
        "curation_jobs",
    )
    return {table: count(db, table) for table in tables}


def assert_problem(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert {"type", "title", "detail"} <= set(problem)
    return problem


def submitted(client, secret: str, **fields: Any) -> dict[str, Any]:
    """A report posted with ``report_body(**fields)`` (which must be stored): its JSON."""
    response = client.post("/v1/reports", json=report_body(**fields), headers=auth(secret))
    assert response.status_code == 201, response.text
    return response.json()
