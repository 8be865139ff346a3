"""Incidents made the way the service makes them: reports through ``submit``."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.report.schemas import ReportCreate
from service.report.service import Submitter, submit

# Inside Idleb and Aleppo governorates, away from borders.
AREA = (36.45, 35.75, 37.15, 36.25)


def report(
    lon: float, lat: float, occurred_at: dt.datetime, *, violation_type: str = "shelling", **extra
) -> ReportCreate:
    body = {
        "occurred_at": occurred_at.isoformat(),
        "location": {"type": "Point", "coordinates": [lon, lat]},
        "violation_type": violation_type,
        "perpetrator": "Syrian Arab Army",
        "target": "Ahrar al-Sham",
        "casualties": {"killed": 2, "injured": 1, "civilians_killed": 1},
        "description": "seen from the roof of the school, reported by the local council",
        "place_name": "the school on the north road",
    }
    body.update(extra)
    return ReportCreate.model_validate(body)


def random_points(n: int, seed: int = 7) -> list[tuple[float, float]]:
    """Deterministic points with 6 decimals, never exactly on a 0.05-degree line (so never
    at the centre of a 0.1-degree cell)."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    points = []
    while len(points) < n:
        lon = round(rng.uniform(AREA[0], AREA[2]), 6)
        lat = round(rng.uniform(AREA[1], AREA[3]), 6)
        if round(lon * 20, 6) % 1 and round(lat * 20, 6) % 1:
            points.append((lon, lat))
    return points


def make_incidents(
    db: Session,
    submitter: Submitter,
    points: Iterable[tuple[float, float]],
    *,
    start: dt.datetime = dt.datetime(2017, 1, 5, 9, 17, 23, tzinfo=dt.UTC),
    step: dt.timedelta = dt.timedelta(hours=5, minutes=7, seconds=11),
    status: str | None = None,
    **extra,
) -> list[uuid.UUID]:
    reports = [report(lon, lat, start + k * step, **extra) for k, (lon, lat) in enumerate(points)]
    outcomes = submit(session=db, submitter=submitter, reports_in=reports)
    assert all(o.status == 201 for o in outcomes), [o.error for o in outcomes if o.error]
    ids = [o.report["incident_id"] for o in outcomes]
    if status is not None:
        set_status(db, ids, status)
    return ids


def set_status(db: Session, ids: Iterable[uuid.UUID], status: str) -> None:
    db.execute(
        text("UPDATE incidents SET status = :status WHERE id = ANY(:ids)"),
        {"status": status, "ids": list(ids)},
    )
