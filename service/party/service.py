"""Who did it: parties by name as of a date, their ceasefire coverage and their guarantors."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import NotFound
from service.text import normalise_name


@dataclass(frozen=True)
class PartyStanding:
    """A party as it stood on one date."""

    id: str
    name: str
    matched_alias: str
    date: dt.date
    target_only: bool
    ceasefire_coverage: str | None  # None: the party had no standing on that date
    guarantors: tuple[str, ...]


_VALID_ON = "(valid_from IS NULL OR valid_from <= :on) AND (valid_to IS NULL OR valid_to >= :on)"

_RESOLVE = text(
    f"""
    SELECT p.id, p.name, p.target_only, al.alias AS matched_alias,
           (SELECT c.coverage::text FROM party_coverage c
             WHERE c.party_id = p.id AND {_VALID_ON.replace("valid_", "c.valid_")}
             ORDER BY c.valid_from DESC NULLS LAST LIMIT 1) AS coverage,
           ARRAY(SELECT g.guarantor_id FROM party_guarantors g
                  WHERE g.party_id = p.id AND {_VALID_ON.replace("valid_", "g.valid_")}
                  ORDER BY g.guarantor_id) AS guarantors
    FROM party_aliases al JOIN parties p ON p.id = al.party_id
    WHERE al.alias_norm = :key
    """
)


def resolve(*, session: Session, name: str, on: dt.date) -> PartyStanding | None:
    """The party a name refers to, with its coverage and guarantors on ``on``; None if unknown.

    Party ids, names and aliases all match, ignoring case, accents and punctuation.
    """
    key = normalise_name(name)
    if not key:
        return None
    row = session.execute(_RESOLVE, {"key": key, "on": on}).first()
    if row is None:
        return None
    return PartyStanding(
        id=row.id,
        name=row.name,
        matched_alias=row.matched_alias,
        date=on,
        target_only=row.target_only,
        ceasefire_coverage=row.coverage,
        guarantors=tuple(row.guarantors),
    )


_PARTIES = text(
    """
    SELECT p.id, p.name, p.side, p.target_only,
      ARRAY(SELECT a.alias FROM party_aliases a WHERE a.party_id = p.id ORDER BY a.alias) AS aliases,
      coalesce((SELECT json_agg(json_build_object('coverage', c.coverage, 'valid_from', c.valid_from,
                                                  'valid_to', c.valid_to)
                                ORDER BY c.valid_from NULLS FIRST)
                FROM party_coverage c WHERE c.party_id = p.id), '[]') AS coverage,
      coalesce((SELECT json_agg(json_build_object('id', g.guarantor_id, 'valid_from', g.valid_from,
                                                  'valid_to', g.valid_to) ORDER BY g.id)
                FROM party_guarantors g WHERE g.party_id = p.id), '[]') AS guarantors
    FROM parties p
    WHERE CAST(:party_id AS text) IS NULL OR p.id = :party_id
    ORDER BY p.id
    """
)


def list_parties(*, session: Session) -> list[dict]:
    return [dict(row._mapping) for row in session.execute(_PARTIES, {"party_id": None})]


def get_party(*, session: Session, party_id: str) -> dict:
    row = session.execute(_PARTIES, {"party_id": party_id}).first()
    if row is None:
        raise NotFound(f"no party with id {party_id!r}")
    return dict(row._mapping)


def list_guarantors(*, session: Session) -> list[dict]:
    rows = session.execute(
        text(
            """
            SELECT gu.id, gu.name,
              coalesce((SELECT json_agg(json_build_object('id', p.id, 'name', p.name,
                                        'valid_from', g.valid_from, 'valid_to', g.valid_to)
                                        ORDER BY p.id)
                        FROM party_guarantors g JOIN parties p ON p.id = g.party_id
                        WHERE g.guarantor_id = gu.id), '[]') AS parties
            FROM guarantors gu ORDER BY gu.id
            """
        )
    )
    return [dict(row._mapping) for row in rows]
