"""Who did it: parties by name as of a date, their ceasefire coverage and their guarantors.

The whole directory (a few hundred aliases) is read in three queries and resolved in memory,
so a batch of 500 reports resolves its actors without a query per name.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import NotFound
from service.text import normalise_name

# Real data names coalitions in one field: "Ahrar al-Sham, Jabhat Fateh al-Sham, Southern Front".
_COMPOSITE_SEPARATORS = re.compile(r"\s*(?:[,;/&+]|\band\b)\s*", re.IGNORECASE)
# When a coalition mixes parties, the one that decides the ceasefire status names it.
_COVERAGE_PRIORITY = {"excluded": 0, "covered": 1, "not_party": 2, None: 3}


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


@dataclass(frozen=True)
class _Span:
    value: str
    valid_from: dt.date | None
    valid_to: dt.date | None

    def holds_on(self, on: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on <= self.valid_to
        )


@dataclass
class _Party:
    id: str
    name: str
    target_only: bool
    coverage: list[_Span] = field(default_factory=list)
    guarantors: list[_Span] = field(default_factory=list)


class PartyDirectory:
    """Every party, alias, coverage span and guarantor span, loaded once."""

    def __init__(self, parties: dict[str, _Party], aliases: dict[str, tuple[str, str]]) -> None:
        self._parties = parties
        self._aliases = aliases  # normalised alias -> (party id, alias as written)

    @classmethod
    def load(cls, session: Session) -> PartyDirectory:
        parties = {
            row.id: _Party(row.id, row.name, row.target_only)
            for row in session.execute(text("SELECT id, name, target_only FROM parties"))
        }
        for row in session.execute(
            text("SELECT party_id, coverage::text, valid_from, valid_to FROM party_coverage")
        ):
            parties[row[0]].coverage.append(_Span(row[1], row[2], row[3]))
        for row in session.execute(
            text(
                "SELECT party_id, guarantor_id, valid_from, valid_to FROM party_guarantors"
                " ORDER BY guarantor_id"
            )
        ):
            parties[row[0]].guarantors.append(_Span(row[1], row[2], row[3]))
        aliases = {
            row.alias_norm: (row.party_id, row.alias)
            for row in session.execute(
                text("SELECT alias_norm, alias, party_id FROM party_aliases")
            )
        }
        return cls(parties, aliases)

    def standing(
        self, party_id: str, on: dt.date, matched_alias: str | None = None
    ) -> PartyStanding:
        party = self._parties[party_id]
        coverage = [s for s in party.coverage if s.holds_on(on)]
        coverage.sort(key=lambda s: s.valid_from or dt.date.min, reverse=True)
        return PartyStanding(
            id=party.id,
            name=party.name,
            matched_alias=matched_alias or party.name,
            date=on,
            target_only=party.target_only,
            ceasefire_coverage=coverage[0].value if coverage else None,
            guarantors=tuple(sorted({s.value for s in party.guarantors if s.holds_on(on)})),
        )

    def resolve(self, name: str, on: dt.date) -> PartyStanding | None:
        """The party a name (id, name or alias) refers to, as of ``on``; None if unknown."""
        hit = self._aliases.get(normalise_name(name))
        if hit is None:
            return None
        return self.standing(hit[0], on, matched_alias=hit[1])

    def resolve_actor(self, name: str, on: dt.date) -> PartyStanding | None:
        """Like ``resolve``, and a coalition named in one field resolves to its deciding member.

        "Ahrar al-Sham, Jabhat Fateh al-Sham, Southern Front" resolves to Jabhat Fateh al-Sham:
        an excluded member makes the operation excluded; otherwise the first covered member
        (whose guarantors answer for it), then a non-party.
        """
        whole = self.resolve(name, on)
        if whole is not None:
            return whole
        members = [
            standing
            for part in _COMPOSITE_SEPARATORS.split(name)
            if part and (standing := self.resolve(part, on)) is not None
        ]
        if not members:
            return None
        return min(
            enumerate(members),
            key=lambda pair: (_COVERAGE_PRIORITY.get(pair[1].ceasefire_coverage, 3), pair[0]),
        )[1]


def resolve(*, session: Session, name: str, on: dt.date) -> PartyStanding | None:
    return PartyDirectory.load(session).resolve(name, on)


_PARTIES = text(
    """
    SELECT p.id, p.name, p.side, p.target_only,
      ARRAY(SELECT a.alias FROM party_aliases a WHERE a.party_id = p.id ORDER BY a.alias) AS aliases,
      coalesce((SELECT json_agg(json_build_object('coverage', c.coverage, 'valid_from', c.valid_from,
                                                  'valid_to', c.valid_to)
                                ORDER BY c.valid_from NULLS FIRST)
                FROM party_coverage c WHERE c.party_id = p.id), '[]') AS coverage,
      coalesce((SELECT json_agg(json_build_object('id', g.guarantor_id, 'valid_from', g.valid_from,
                                                  'valid_to', g.valid_to) ORDER BY g.guarantor_id)
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
