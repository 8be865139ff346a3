from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.db import SessionDep
from service.errors import NotFound
from service.party import service
from service.party.schemas import GuarantorRead, PartyRead, PartyResolution
from service.theatre.terms import load_terms, theatre_today
from service.types import Day

router = APIRouter(prefix="/v1", tags=["parties"])


@router.get("/parties", response_model=list[PartyRead])
def list_parties(session: SessionDep) -> list[dict]:
    """Every party with its aliases, side, ceasefire coverage and guarantors over time."""
    return service.list_parties(session=session)


@router.get("/parties/resolve", response_model=PartyResolution)
def resolve_party(
    session: SessionDep,
    name: Annotated[str, Query(min_length=1, max_length=300)],
    date: Annotated[
        Day | None, Query(description="Defaults to today in the theatre's time zone.")
    ] = None,
) -> PartyResolution:
    """The party a name refers to, with its coverage and guarantors as they stood on ``date``."""
    on = date or theatre_today(session, load_terms(session))
    standing = service.resolve(session=session, name=name, on=on)
    if standing is None:
        raise NotFound(f"no party is known by the name {name!r}")
    return PartyResolution.model_validate(standing, from_attributes=True)


@router.get("/parties/{party_id}", response_model=PartyRead)
def get_party(party_id: str, session: SessionDep) -> dict:
    return service.get_party(session=session, party_id=party_id)


@router.get("/guarantors", response_model=list[GuarantorRead], tags=["guarantors"])
def list_guarantors(session: SessionDep) -> list[dict]:
    """The guarantors and the parties each answers for, with validity dates."""
    return service.list_guarantors(session=session)
