"""Who did it: parties by name as of a date, their ceasefire coverage and their guarantors.

The whole directory (a few hundred aliases) is read in three queries and resolved in memory,
so a batch of 500 reports resolves its actors without a query per name.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import NotFound
from service.text import normalise_name, normalise_sql

# How many (name, day) pairs a directory remembers resolved; a few megabytes at most.
_ACTOR_MEMO_LIMIT = 20_000
_UNRESOLVED = object()
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


def _in_period(valid_from: dt.date | None, valid_to: dt.date | None, on: dt.date) -> bool:
    """Whether ``on`` lies in the inclusive period (None: open on that side)."""
    return (valid_from is None or valid_from <= on) and (valid_to is None or on <= valid_to)


@dataclass(frozen=True)
class _Span:
    value: str
    valid_from: dt.date | None
    valid_to: dt.date | None

    def holds_on(self, on: dt.date) -> bool:
        return _in_period(self.valid_from, self.valid_to, on)


@dataclass
class _Party:
    id: str
    name: str
    target_only: bool
    coverage: list[_Span] = field(default_factory=list)
    guarantors: list[_Span] = field(default_factory=list)


@dataclass(frozen=True)
class _Alias:
    party_id: str
    alias: str
    valid_from: dt.date | None
    valid_to: dt.date | None

    def holds_on(self, on: dt.date) -> bool:
        return _in_period(self.valid_from, self.valid_to, on)


@dataclass(frozen=True)
class Coalition:
    name: str
    members: tuple[str, ...]  # party ids, in the order declared


def attribute_coalition(members: list[PartyStanding]) -> PartyStanding | None:
    """The coalition rule: how parties acting together (a declared coalition, or several
    names in one field) are attributed, at intake, by the resolver and on re-attribution.

    The event is attributed to the *deciding member*: an excluded member if any (the event
    is outside the ceasefire, as an excluded party's is), else the first covered member,
    else the first member without standing. When the deciding member is covered, every
    covered member's guarantors answer for the event (each guarantor for its own party).
    One perpetrator is stored, so each event counts once per party in every tally.
    """
    if not members:
        return None
    _, deciding = min(
        enumerate(members),
        key=lambda pair: (_COVERAGE_PRIORITY.get(pair[1].ceasefire_coverage, 3), pair[0]),
    )
    if deciding.ceasefire_coverage != "covered":
        return deciding
    guarantors = sorted(
        {g for m in members if m.ceasefire_coverage == "covered" for g in m.guarantors}
    )
    return replace(deciding, guarantors=tuple(guarantors))


class PartyDirectory:
    """Every party, alias, coalition, coverage span and guarantor span, loaded once."""

    def __init__(
        self,
        parties: dict[str, _Party],
        aliases: dict[str, list[_Alias]],
        coalitions: dict[str, Coalition] | None = None,
    ) -> None:
        self._parties = parties
        self._aliases = aliases  # normalised alias -> its spans (one party at a time)
        self._coalitions = coalitions or {}  # normalised name -> members
        # Reports name the same few actors on the same few days: resolve each pair once (the
        # directory is immutable once loaded; intakes share it until the parties change, so
        # the memo is emptied when it reaches ``_ACTOR_MEMO_LIMIT`` pairs).
        self._actors: dict[tuple[str, dt.date], PartyStanding | None] = {}

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
        aliases: dict[str, list[_Alias]] = {}
        for row in session.execute(
            text(
                "SELECT alias_norm, alias, party_id, valid_from, valid_to FROM party_aliases"
                " ORDER BY alias_norm, valid_from NULLS FIRST"
            )
        ):
            aliases.setdefault(row.alias_norm, []).append(
                _Alias(row.party_id, row.alias, row.valid_from, row.valid_to)
            )
        coalitions: dict[str, Coalition] = {}
        for row in session.execute(
            text(
                "SELECT c.name_norm, c.name, array_agg(m.party_id ORDER BY m.position) AS members"
                " FROM party_coalitions c JOIN party_coalition_members m"
                " ON m.coalition_norm = c.name_norm GROUP BY c.name_norm, c.name"
            )
        ):
            coalitions[row.name_norm] = Coalition(row.name, tuple(row.members))
        return cls(parties, aliases, coalitions)

    def name_of(self, party_id: str) -> str:
        """A party's name, as the reads join it."""
        return self._parties[party_id].name

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
        for span in self._aliases.get(normalise_name(name), ()):
            if span.holds_on(on):
                return self.standing(span.party_id, on, matched_alias=span.alias)
        return None

    def _members(self, name: str, on: dt.date) -> list[PartyStanding]:
        """The parties one name stands for on ``on``: one party, a coalition's members, or
        none."""
        one = self.resolve(name, on)
        if one is not None:
            return [one]
        coalition = self._coalitions.get(normalise_name(name))
        if coalition is None:
            return []
        return [self.standing(m, on, matched_alias=coalition.name) for m in coalition.members]

    def resolve_actor(self, name: str, on: dt.date) -> PartyStanding | None:
        """Like ``resolve``; a declared coalition, or several names in one field ("Ahrar
        al-Sham, Jabhat Fateh al-Sham, Southern Front"), resolve to the set of their named
        members, attributed by the coalition rule (``attribute_coalition``)."""
        key = (name, on)
        found = self._actors.get(key, _UNRESOLVED)
        if found is _UNRESOLVED:
            if len(self._actors) >= _ACTOR_MEMO_LIMIT:
                self._actors = {}
            found = self._actors[key] = self._resolve_actor(name, on)
        return found  # type: ignore[return-value]

    def _resolve_actor(self, name: str, on: dt.date) -> PartyStanding | None:
        whole = self._members(name, on)
        if len(whole) == 1:
            return whole[0]
        if not whole:
            whole = [
                member
                for part in _COMPOSITE_SEPARATORS.split(name)
                if part
                for member in self._members(part, on)
            ]
        return attribute_coalition(whole)


def resolve(*, session: Session, name: str, on: dt.date) -> PartyStanding | None:
    """What intake would attribute ``name`` to on ``on``: a party, or a coalition (declared,
    or several names in one field) by the coalition rule."""
    return PartyDirectory.load(session).resolve_actor(name, on)


_PARTIES = text(
    """
    SELECT p.id, p.name, p.side, p.target_only,
      ARRAY(SELECT DISTINCT a.alias FROM party_aliases a WHERE a.party_id = p.id ORDER BY a.alias)
          AS aliases,
      coalesce((SELECT json_agg(json_build_object('alias', a.alias, 'valid_from', a.valid_from,
                                                  'valid_to', a.valid_to)
                                ORDER BY a.alias, a.valid_from NULLS FIRST)
                FROM party_aliases a WHERE a.party_id = p.id), '[]') AS alias_validity,
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


def list_coalitions(*, session: Session) -> list[dict]:
    """Every declared coalition: its name and its members, in deciding order."""
    rows = session.execute(
        text(
            "SELECT c.name, array_agg(m.party_id ORDER BY m.position) AS members"
            " FROM party_coalitions c JOIN party_coalition_members m"
            " ON m.coalition_norm = c.name_norm GROUP BY c.name_norm, c.name ORDER BY c.name"
        )
    )
    return [dict(r._mapping) for r in rows]


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


# ---- the unresolved names' worklist ----

# Each report's perpetrator and target that resolved to no party (the partial indexes of
# migration 0100 hold exactly these rows), grouped by normalised name (the SQL twin of
# ``normalise_name``); a perpetrator that names a target-only party (civilians) is known,
# not unresolved. One statement.
_UNRESOLVED = text(
    f"""
    WITH named AS (
        SELECT r.perpetrator_raw AS name, r.id, r.occurred_at, r.province_pcode,
               1 AS as_perpetrator, 0 AS as_target
        FROM reports r
        WHERE r.perpetrator_raw IS NOT NULL AND r.perpetrator_party_id IS NULL
          AND NOT EXISTS (
              SELECT 1 FROM party_aliases a JOIN parties p ON p.id = a.party_id
              WHERE p.target_only AND a.alias_norm = {normalise_sql("r.perpetrator_raw")})
        UNION ALL
        SELECT r.target_raw, r.id, r.occurred_at, r.province_pcode, 0, 1
        FROM reports r
        WHERE r.target_raw IS NOT NULL AND r.target_party_id IS NULL
    ),
    keyed AS (
        SELECT {normalise_sql("name")} AS norm, * FROM named
    ),
    grouped AS (
        SELECT norm, mode() WITHIN GROUP (ORDER BY name) AS name,
               array_agg(DISTINCT name ORDER BY name) AS spellings,
               count(DISTINCT id) AS report_count,
               sum(as_perpetrator) AS as_perpetrator, sum(as_target) AS as_target,
               CAST(min(occurred_at) AT TIME ZONE :tz AS date) AS first_date,
               CAST(max(occurred_at) AT TIME ZONE :tz AS date) AS last_date,
               array_agg(DISTINCT province_pcode) AS pcodes,
               (array_agg(id ORDER BY occurred_at DESC, id))[1:CAST(:samples AS int)] AS report_ids
        FROM keyed
        WHERE norm <> ''
        GROUP BY norm
        ORDER BY report_count DESC, norm
        LIMIT :limit
    )
    SELECT g.name, g.spellings, g.report_count, g.as_perpetrator, g.as_target, g.first_date,
           g.last_date, g.report_ids,
           (SELECT coalesce(json_agg(json_build_object('pcode', a.pcode, 'name', a.name_en)
                                     ORDER BY a.pcode), '[]')
            FROM admin_areas a WHERE a.pcode = ANY(g.pcodes)) AS provinces
    FROM grouped g
    ORDER BY g.report_count DESC, g.norm
    """
)
UNRESOLVED_SAMPLES = 5


def unresolved_names(*, session: Session, timezone: str, limit: int) -> list[dict]:
    """Every perpetrator or target name that resolved to no party, most reported first."""
    rows = session.execute(
        _UNRESOLVED, {"tz": timezone, "limit": limit, "samples": UNRESOLVED_SAMPLES}
    )
    return [dict(row._mapping) for row in rows]
