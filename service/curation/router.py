from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from service.auth.dependencies import KEY_ERRORS, Verifier
from service.curation import service
from service.curation.schemas import CurationJobRead
from service.db import SessionDep

router = APIRouter(prefix="/v1/curation", tags=["curation"])


@router.get("/jobs", response_model=list[CurationJobRead], responses=KEY_ERRORS)
def list_jobs(
    principal: Verifier,
    session: SessionDep,
    status: Annotated[Literal["pending", "running", "done"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many, newest first.")] = 100,
) -> list[dict]:
    """Re-attribution jobs queued by curation acts, newest first, with their progress."""
    return service.list_jobs(session=session, status=status, limit=limit)


@router.get("/jobs/{job_id}", response_model=CurationJobRead, responses=KEY_ERRORS)
def get_job(
    job_id: Annotated[int, Path(ge=1, le=2**63 - 1)], principal: Verifier, session: SessionDep
) -> dict:
    return service.get_job(session=session, job_id=job_id)
