"""A seeded data set for the property tests that hold aggregates and tiles to the items
(``test_aggregates_agree.py``, ``test_cell_tiles_agree.py``): reports drawn at random
through ``submit``, incidents of every status, and an app client over the module's
rolled-back session. Each test module keeps its own days, places and vocabulary."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.config import get_settings
from service.report.schemas import ReportCreate

STATUSES = ["unverified", "verified", "disputed", "rejected", "merged"]


def random_report(  # noqa: PLR0913 - each test module draws its own vocabulary
    rng: random.Random,
    at: dt.datetime,
    *,
    boxes: Sequence[tuple[float, float, float, float]],
    types: Sequence[str],
    perpetrators: Sequence[str | None],
    targets: Sequence[str | None],
    province_only: tuple[float, Sequence[str]],
    killed: int,
    injured: int,
) -> ReportCreate:
    """One report at ``at``: in a random box, or (with the given share) in a province only."""
    box = rng.choice(boxes)
    body: dict[str, Any] = {
        "occurred_at": at.isoformat(),
        "violation_type": rng.choice(types),
        "casualties": {"killed": rng.randint(0, killed), "injured": rng.randint(0, injured)},
    }
    share, provinces = province_only
    if rng.random() < share:
        body["province"] = rng.choice(provinces)
    else:
        body["location"] = {
            "type": "Point",
            "coordinates": [
                round(rng.uniform(box[0], box[2]), 6),
                round(rng.uniform(box[1], box[3]), 6),
            ],
        }
    perpetrator, target = rng.choice(perpetrators), rng.choice(targets)
    if perpetrator is not None:
        body["perpetrator"] = perpetrator
    if target is not None:
        body["target"] = target
    return ReportCreate.model_validate(body)


def seed_incidents(
    session: Session, rng: random.Random, reports: list[ReportCreate], weights: Sequence[int]
) -> tuple[str, list[Any]]:
    """Submit ``reports`` and give their incidents random statuses (merged ones into a
    verified survivor); the monitor key's secret and the incidents' ids, committed."""
    from service.audit.service import CONSOLE
    from service.auth.service import create_key
    from service.report.service import Submitter, submit

    reporter, _ = create_key(session=session, role="reporter", name="seeder", actor=CONSOLE)
    _, secret = create_key(session=session, role="monitor", name="checker", actor=CONSOLE)
    session.commit()
    outcomes = submit(
        session=session,
        submitter=Submitter(key_id=reporter["id"], actor=CONSOLE),
        reports_in=reports,
    )
    assert all(o.status == 201 for o in outcomes), [o.error for o in outcomes if o.error]
    ids = [o.report["incident_id"] for o in outcomes]
    chosen = rng.choices(STATUSES, weights=weights, k=len(ids))
    survivor = next(i for i, status in zip(ids, chosen, strict=True) if status == "verified")
    for status in STATUSES[1:]:
        session.execute(
            text(
                "UPDATE incidents SET status = CAST(:status AS varchar),"
                " merged_into_id = CASE WHEN CAST(:status AS text) = 'merged'"
                " THEN CAST(:into AS uuid) END"
                " WHERE id = ANY(:ids)"
            ),
            {
                "status": status,
                "into": survivor,
                "ids": [i for i, s in zip(ids, chosen, strict=True) if s == status],
            },
        )
    session.commit()
    return secret, ids


@contextmanager
def app_client(session: Session, **settings: Any) -> Iterator[Any]:
    """A test client of the app over ``session``, rate limits off, ``settings`` patched."""
    from fastapi.testclient import TestClient

    from service.db import get_session
    from service.health.ops import ops_sessions
    from service.main import create_app

    application = create_app()
    application.dependency_overrides[get_session] = lambda: session
    application.dependency_overrides[ops_sessions] = lambda: lambda: nullcontext(session)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(get_settings(), "rate_limit_requests", 10_000_000)
        for name, value in settings.items():
            patch.setattr(get_settings(), name, value)
        with TestClient(application) as test_client:
            yield test_client


def use_timezone(session: Session, tz: str) -> None:
    """The theatre's zone (a change rebuilds the rollups, as in service)."""
    session.execute(text("UPDATE theatres SET timezone = :tz WHERE timezone <> :tz"), {"tz": tz})
    session.commit()


def iso(at: dt.datetime, tz: str, style: int) -> str:
    """One instant in RFC 3339: in UTC with ``Z``, or with the theatre's offset."""
    if style == 0:
        return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return at.astimezone(ZoneInfo(tz)).isoformat()


def give_bands(session: Session, rng: random.Random) -> None:
    """Give about a third of the incidents another confidence band (as a later report or
    review would), so ``confidence=`` filters split them."""
    ids = session.execute(text("SELECT id FROM incidents ORDER BY id")).scalars().all()
    for band in ("medium", "high"):
        chosen = [i for i in ids if rng.random() < 0.17]
        session.execute(
            text("UPDATE incidents SET confidence_band = :band WHERE id = ANY(:ids)"),
            {"band": band, "ids": chosen},
        )
