from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query
from starlette.responses import Response

from service.api import StrictJSONRoute, committing, json_bytes_response, negotiate_format
from service.auth.dependencies import KEY_ERRORS, Admin, Verifier
from service.db import SessionDep
from service.errors import NotFound
from service.party import curation, service
from service.party.schemas import (
    AliasCreate,
    CoalitionCreate,
    CoalitionRead,
    CurationAct,
    GuarantorRead,
    GuarantorSet,
    PartyCreate,
    PartyRead,
    PartyResolution,
    SpanEnd,
    UnresolvedName,
)
from service.theatre.terms import load_terms, theatre_today
from service.types import Day

router = APIRouter(prefix="/v1", tags=["parties"], route_class=StrictJSONRoute)

_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **KEY_ERRORS,
    404: {"description": "No such party (or span to end)"},
    409: {"description": "The name or span is taken, or the party exists already"},
    413: {"description": "Body over the size limit"},
    415: {"description": "The body is not JSON"},
}
PartyId = Annotated[str, Path(min_length=1, max_length=64, description="The party's id (slug).")]

_CSV_ACCEPTED = {
    "application/json": "json",
    "text/csv": "csv",
    "application/*": "json",
    "text/*": "csv",
    "*/*": "json",
}


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
    """The party a name refers to, with its coverage and guarantors as they stood on ``date``;
    a coalition (declared, or several names separated by commas) gives its deciding member,
    with the guarantors the coalition rule makes answer (as intake attributes it)."""
    on = date or theatre_today(session, load_terms(session))
    standing = service.resolve(session=session, name=name, on=on)
    if standing is None:
        raise NotFound(f"no party is known by the name {name!r}")
    return PartyResolution.model_validate(standing, from_attributes=True)


def _unresolved_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "name",
            "report_count",
            "as_perpetrator",
            "as_target",
            "first_date",
            "last_date",
            "province_pcodes",
            "province_names",
            "report_ids",
            "spellings",
        ]
    )
    for r in rows:
        writer.writerow(
            [
                r["name"],
                r["report_count"],
                r["as_perpetrator"],
                r["as_target"],
                r["first_date"].isoformat(),
                r["last_date"].isoformat(),
                ";".join(p["pcode"] for p in r["provinces"]),
                ";".join(p["name"] for p in r["provinces"]),
                ";".join(str(i) for i in r["report_ids"]),
                ";".join(r["spellings"]),
            ]
        )
    return out.getvalue().encode()


@router.get(
    "/parties/unresolved",
    response_model=list[UnresolvedName],
    responses={
        **KEY_ERRORS,
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        406: {"description": "Neither JSON nor CSV is acceptable"},
    },
)
def unresolved_names(
    principal: Verifier,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many names, 1-1000.")] = 100,
    format: Annotated[  # noqa: A002 - the digests' spelling of the override
        Literal["json", "csv"] | None,
        Query(description="Overrides the Accept header: json (default) or csv."),
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """The worklist of curation: every perpetrator or target name that resolved to no party,
    with its report count, first and last event day (theatre time), governorates and a few
    report ids (latest first), most reported first. Also as CSV (`Accept: text/csv` or
    `?format=csv`)."""
    fmt = negotiate_format(
        format,
        accept,
        accepted=_CSV_ACCEPTED,
        offered="the worklist is available as application/json and text/csv"
        " (or use ?format=json|csv)",
    )
    terms = load_terms(session)
    rows = service.unresolved_names(session=session, timezone=terms.timezone.key, limit=limit)
    headers = {"Vary": "Accept"}
    if fmt == "csv":
        return Response(
            _unresolved_csv(rows), media_type="text/csv; charset=utf-8", headers=headers
        )
    body = (
        b"["
        + b",".join(UnresolvedName.model_validate(r).model_dump_json().encode() for r in rows)
        + b"]"
    )
    return json_bytes_response(body, headers=headers)


@router.post("/parties", response_model=CurationAct, status_code=201, responses=_WRITE_ERRORS)
def create_party(principal: Admin, session: SessionDep, body: PartyCreate) -> dict:
    """A new party (admin), as the theatre file declares one; its name, id and aliases name
    it from now on, and stored events naming them are re-attributed by the queued job."""
    with committing(session):
        return curation.create_party(session=session, body=body, actor=principal.actor)


@router.get("/parties/{party_id}", response_model=PartyRead)
def get_party(party_id: PartyId, session: SessionDep) -> dict:
    return service.get_party(session=session, party_id=party_id)


@router.post(
    "/parties/{party_id}/aliases",
    response_model=CurationAct,
    status_code=201,
    responses=_WRITE_ERRORS,
)
def add_alias(party_id: PartyId, principal: Admin, session: SessionDep, body: AliasCreate) -> dict:
    """A name the party goes by over a period (admin); 409 when another party (or this
    one) already goes by it on any of those days, or a coalition is declared by it."""
    with committing(session):
        return curation.add_alias(
            session=session, party_id=party_id, body=body, actor=principal.actor
        )


# ``alias`` may hold a slash ("Jaysh al-Islam/Damascus", sent as %2F or as it is): the
# path convertor takes everything up to the final ``/end``.
@router.post(
    "/parties/{party_id}/aliases/{alias:path}/end",
    response_model=CurationAct,
    responses=_WRITE_ERRORS,
)
def end_alias(
    party_id: PartyId,
    alias: Annotated[str, Path(min_length=1, max_length=300)],
    principal: Admin,
    session: SessionDep,
    body: SpanEnd,
) -> dict:
    """End the party's open-ended alias: it names the party up to `valid_to` (inclusive)."""
    with committing(session):
        return curation.end_alias(
            session=session, party_id=party_id, alias=alias, body=body, actor=principal.actor
        )


@router.post(
    "/parties/{party_id}/guarantors",
    response_model=CurationAct,
    status_code=201,
    responses=_WRITE_ERRORS,
)
def set_guarantor(
    party_id: PartyId, principal: Admin, session: SessionDep, body: GuarantorSet
) -> dict:
    """A guarantor answers for the party over a period (admin)."""
    with committing(session):
        return curation.set_guarantor(
            session=session, party_id=party_id, body=body, actor=principal.actor
        )


@router.post(
    "/parties/{party_id}/guarantors/{guarantor}/end",
    response_model=CurationAct,
    responses=_WRITE_ERRORS,
)
def end_guarantor(
    party_id: PartyId,
    guarantor: Annotated[str, Path(min_length=1, max_length=3)],
    principal: Admin,
    session: SessionDep,
    body: SpanEnd,
) -> dict:
    """The guarantor stops answering for the party after `valid_to` (inclusive)."""
    with committing(session):
        return curation.end_guarantor(
            session=session,
            party_id=party_id,
            guarantor=guarantor,
            body=body,
            actor=principal.actor,
        )


@router.get("/coalitions", response_model=list[CoalitionRead], tags=["parties"])
def list_coalitions(session: SessionDep) -> list[dict]:
    """Names standing for several parties, with their members in deciding order."""
    return service.list_coalitions(session=session)


@router.post("/coalitions", response_model=CurationAct, status_code=201, responses=_WRITE_ERRORS)
def declare_coalition(principal: Admin, session: SessionDep, body: CoalitionCreate) -> dict:
    """Declare a name as a coalition of member parties (admin), attributed by the coalition
    rule: the deciding member (an excluded one if any, else the first covered one), with
    every covered member's guarantors answering."""
    with committing(session):
        return curation.declare_coalition(session=session, body=body, actor=principal.actor)


@router.get("/guarantors", response_model=list[GuarantorRead], tags=["guarantors"])
def list_guarantors(session: SessionDep) -> list[dict]:
    """The guarantors and the parties each answers for, with validity dates."""
    return service.list_guarantors(session=session)
