"""Curating the party directory at run time (admin): new parties, aliases over periods,
coalitions, and the guarantors answering for a party. The database is the source of truth
after the first seed (``ceasefire seed`` only adds what is missing).

Every act is checked whole before anything is written (a refusal changes nothing), is
audited (who, what, why), and queues its re-attribution job (``service.curation``) in the
same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from service import locks
from service.audit.service import Actor, record
from service.curation.service import enqueue
from service.errors import Conflict, Invalid, NotFound
from service.party.schemas import (
    AliasCreate,
    CoalitionCreate,
    GuarantorSet,
    PartyCreate,
    SpanEnd,
)
from service.text import normalise_name


def _lock(session: Session) -> None:
    namespace, key = locks.advisory_key(locks.PARTY_CURATION)
    session.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": namespace, "key": key})


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", errors=[{"field": f"body.{field}", "message": message}])


def _period(valid_from: dt.date | None, valid_to: dt.date | None) -> str:
    if valid_from is None and valid_to is None:
        return "at any time"
    return f"from {valid_from or 'the start'} to {valid_to or 'open end'}"


def _during(valid_from: dt.date | None, valid_to: dt.date | None) -> str:
    """The period a summary names: nothing when open on both sides."""
    return "" if valid_from is None and valid_to is None else " " + _period(valid_from, valid_to)


def _norm(field: str, name: str) -> str:
    norm = normalise_name(name)
    if not norm:
        raise _invalid(field, f"{name!r} has no letters or digits to match on")
    return norm


def _curating(session: Session, party_id: str) -> Any:
    """Take the curation lock and the party a curation act is about (404 if none)."""
    _lock(session)
    return _party(session, party_id)


def _party(session: Session, party_id: str) -> Any:
    row = session.execute(
        text("SELECT id, name FROM parties WHERE id = :id"), {"id": party_id}
    ).first()
    if row is None:
        raise NotFound(f"no party with id {party_id!r}")
    return row


def _alias_taken(
    session: Session, norm: str, valid_from: dt.date | None, valid_to: dt.date | None
) -> Any:
    return session.execute(
        text(
            "SELECT party_id, alias, valid_from, valid_to FROM party_aliases"
            " WHERE alias_norm = :norm"
            " AND daterange(valid_from, valid_to, '[]') && daterange(:f, :t, '[]')"
            " ORDER BY valid_from NULLS FIRST LIMIT 1"
        ),
        {"norm": norm, "f": valid_from, "t": valid_to},
    ).first()


def _refuse_taken_alias(
    session: Session, field: str, alias: str, valid_from: dt.date | None, valid_to: dt.date | None
) -> str:
    norm = _norm(field, alias)
    taken = _alias_taken(session, norm, valid_from, valid_to)
    if taken is not None:
        raise Conflict(
            f"{field}: {alias!r} already names party {taken.party_id} (as {taken.alias!r})"
            f" {_period(taken.valid_from, taken.valid_to)}, overlapping"
            f" {_period(valid_from, valid_to)}"
        )
    coalition = session.execute(
        text("SELECT name FROM party_coalitions WHERE name_norm = :norm"), {"norm": norm}
    ).scalar()
    if coalition is not None:
        raise Conflict(f"{field}: {alias!r} already names the coalition {coalition!r}")
    return norm


def _known_guarantor(session: Session, field: str, guarantor: str) -> str:
    known = list(session.execute(text("SELECT id FROM guarantors ORDER BY id")).scalars())
    if guarantor.upper() not in known:
        raise _invalid(field, f"{guarantor!r} is not one of {', '.join(known)}")
    return guarantor.upper()


def _end_span(
    session: Session,
    *,
    table: str,
    label: str,
    condition: str,
    params: dict[str, Any],
    missing: str,
    valid_to: dt.date,
) -> Any:
    """End the open-ended span of ``table`` matching ``condition`` on ``valid_to``; its
    row (id, ``label``, valid_from) as it was."""
    span = session.execute(
        text(f"SELECT id, {label}, valid_from FROM {table} WHERE {condition} AND valid_to IS NULL"),
        params,
    ).first()
    if span is None:
        raise NotFound(missing)
    if span.valid_from is not None and valid_to < span.valid_from:
        raise _invalid("valid_to", f"{valid_to} is before the span's first day, {span.valid_from}")
    session.execute(
        text(f"UPDATE {table} SET valid_to = :t WHERE id = :id"), {"t": valid_to, "id": span.id}
    )
    return span


def _act(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: str,
    summary: str,
    before: Any,
    after: Any,
    reason: str | None,
    names: list[str],
    party_ids: list[str],
) -> dict[str, Any]:
    """Audit the act and queue its re-attribution; what the API answers."""
    job_id = enqueue(
        session, action=action, summary=summary, actor=actor, names=names, party_ids=party_ids
    )
    record(
        session,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after={**after, "curation_job": job_id},
        reason=reason or summary,
    )
    return {
        "action": action,
        "summary": summary,
        "job_id": job_id,
        "job": f"/v1/curation/jobs/{job_id}",
    }


# Paths under /v1/parties/ that are not a party's.
_RESERVED_IDS = ("resolve", "unresolved")


def create_party(*, session: Session, body: PartyCreate, actor: Actor) -> dict[str, Any]:
    if body.id in _RESERVED_IDS:
        raise _invalid("id", f"{body.id!r} is reserved (/v1/parties/{body.id} is another path)")
    _lock(session)
    if session.execute(text("SELECT 1 FROM parties WHERE id = :id"), {"id": body.id}).first():
        raise Conflict(f"id: a party with id {body.id!r} exists already")
    # One alias row per normalised form: the first spelling given is the one shown.
    spellings: dict[str, str] = {}
    for field, name in (("name", body.name), *(("aliases", a) for a in body.aliases)):
        spellings.setdefault(_refuse_taken_alias(session, field, name, None, None), name)
    spellings.setdefault(_refuse_taken_alias(session, "id", body.id, None, None), body.id)
    guarantors = [
        (_known_guarantor(session, "guarantors", g.id), g.valid_from, g.valid_to)
        for g in body.guarantors
    ]
    session.execute(
        text(
            "INSERT INTO parties (id, name, side, target_only)"
            " VALUES (:id, :name, :side, :target_only)"
        ),
        body.model_dump(include={"id", "name", "side", "target_only"}),
    )
    session.execute(
        text("INSERT INTO party_aliases (alias_norm, alias, party_id) VALUES (:n, :a, :p)"),
        [{"n": n, "a": a, "p": body.id} for n, a in spellings.items()],
    )
    if guarantors:
        session.execute(
            text(
                "INSERT INTO party_guarantors (party_id, guarantor_id, valid_from, valid_to)"
                " VALUES (:p, :g, :f, :t)"
            ),
            [{"p": body.id, "g": g, "f": f, "t": t} for g, f, t in guarantors],
        )
    if body.coverage:
        session.execute(
            text(
                "INSERT INTO party_coverage (party_id, coverage, valid_from, valid_to)"
                " VALUES (:p, CAST(:c AS coverage), :f, :t)"
            ),
            [
                {"p": body.id, "c": c.coverage.value, "f": c.valid_from, "t": c.valid_to}
                for c in body.coverage
            ],
        )
    return _act(
        session,
        actor=actor,
        action="party.created",
        entity_type="party",
        entity_id=body.id,
        summary=f"party {body.id} ({body.name}) was created",
        before=None,
        after=body.model_dump(mode="json", exclude={"reason"}),
        reason=body.reason,
        names=list(spellings),
        party_ids=[],
    )


def add_alias(
    *, session: Session, party_id: str, body: AliasCreate, actor: Actor
) -> dict[str, Any]:
    _curating(session, party_id)
    norm = _refuse_taken_alias(session, "alias", body.alias, body.valid_from, body.valid_to)
    session.execute(
        text(
            "INSERT INTO party_aliases (alias_norm, alias, party_id, valid_from, valid_to)"
            " VALUES (:n, :a, :p, :f, :t)"
        ),
        {"n": norm, "a": body.alias, "p": party_id, "f": body.valid_from, "t": body.valid_to},
    )
    return _act(
        session,
        actor=actor,
        action="party.alias_added",
        entity_type="party",
        entity_id=party_id,
        summary=f"alias {body.alias!r} was added to party {party_id}"
        f"{_during(body.valid_from, body.valid_to)}",
        before=None,
        after=body.model_dump(mode="json", exclude={"reason"}),
        reason=body.reason,
        names=[norm],
        party_ids=[],
    )


def end_alias(
    *, session: Session, party_id: str, alias: str, body: SpanEnd, actor: Actor
) -> dict[str, Any]:
    _curating(session, party_id)
    span = _end_span(
        session,
        table="party_aliases",
        label="alias",
        condition="party_id = :p AND alias_norm = :n",
        params={"p": party_id, "n": normalise_name(alias)},
        missing=f"party {party_id} has no open-ended alias {alias!r}",
        valid_to=body.valid_to,
    )
    return _act(
        session,
        actor=actor,
        action="party.alias_ended",
        entity_type="party",
        entity_id=party_id,
        summary=f"alias {span.alias!r} of party {party_id} was ended after {body.valid_to}",
        before={"alias": span.alias, "valid_from": span.valid_from, "valid_to": None},
        after={"alias": span.alias, "valid_from": span.valid_from, "valid_to": body.valid_to},
        reason=body.reason,
        names=[normalise_name(alias)],
        party_ids=[],
    )


def set_guarantor(
    *, session: Session, party_id: str, body: GuarantorSet, actor: Actor
) -> dict[str, Any]:
    _curating(session, party_id)
    guarantor = _known_guarantor(session, "guarantor", body.guarantor)
    overlapping = session.execute(
        text(
            "SELECT valid_from, valid_to FROM party_guarantors"
            " WHERE party_id = :p AND guarantor_id = :g"
            " AND daterange(valid_from, valid_to, '[]') && daterange(:f, :t, '[]') LIMIT 1"
        ),
        {"p": party_id, "g": guarantor, "f": body.valid_from, "t": body.valid_to},
    ).first()
    if overlapping is not None:
        raise Conflict(
            f"guarantor: {guarantor} already answers for party {party_id}"
            f" {_period(overlapping.valid_from, overlapping.valid_to)}"
        )
    session.execute(
        text(
            "INSERT INTO party_guarantors (party_id, guarantor_id, valid_from, valid_to)"
            " VALUES (:p, :g, :f, :t)"
        ),
        {"p": party_id, "g": guarantor, "f": body.valid_from, "t": body.valid_to},
    )
    return _act(
        session,
        actor=actor,
        action="party.guarantor_set",
        entity_type="party",
        entity_id=party_id,
        summary=f"guarantor {guarantor} was set for party {party_id}"
        f"{_during(body.valid_from, body.valid_to)}",
        before=None,
        after={**body.model_dump(mode="json", exclude={"reason"}), "guarantor": guarantor},
        reason=body.reason,
        names=[],
        party_ids=[party_id],
    )


def end_guarantor(
    *, session: Session, party_id: str, guarantor: str, body: SpanEnd, actor: Actor
) -> dict[str, Any]:
    _curating(session, party_id)
    span = _end_span(
        session,
        table="party_guarantors",
        label="guarantor_id",
        condition="party_id = :p AND guarantor_id = upper(:g)",
        params={"p": party_id, "g": guarantor},
        missing=f"guarantor {guarantor!r} has no open-ended span for party {party_id}",
        valid_to=body.valid_to,
    )
    return _act(
        session,
        actor=actor,
        action="party.guarantor_ended",
        entity_type="party",
        entity_id=party_id,
        summary=f"guarantor {span.guarantor_id} stopped answering for party {party_id}"
        f" after {body.valid_to}",
        before={"guarantor": span.guarantor_id, "valid_from": span.valid_from, "valid_to": None},
        after={
            "guarantor": span.guarantor_id,
            "valid_from": span.valid_from,
            "valid_to": body.valid_to,
        },
        reason=body.reason,
        names=[],
        party_ids=[party_id],
    )


def declare_coalition(*, session: Session, body: CoalitionCreate, actor: Actor) -> dict[str, Any]:
    _lock(session)
    norm = _norm("name", body.name)
    if len(set(body.members)) != len(body.members):
        raise _invalid("members", "a party is named twice")
    known = set(
        session.execute(
            text("SELECT id FROM parties WHERE id = ANY(:ids)"), {"ids": body.members}
        ).scalars()
    )
    unknown = [m for m in body.members if m not in known]
    if unknown:
        raise _invalid("members", f"no party with id {', '.join(map(repr, unknown))}")
    existing = session.execute(
        text("SELECT name FROM party_coalitions WHERE name_norm = :n"), {"n": norm}
    ).scalar()
    if existing is not None:
        raise Conflict(f"name: the coalition {existing!r} is declared already")
    taken = _alias_taken(session, norm, None, None)
    if taken is not None:
        raise Conflict(
            f"name: {body.name!r} names party {taken.party_id}"
            f" {_period(taken.valid_from, taken.valid_to)}"
        )
    session.execute(
        text("INSERT INTO party_coalitions (name_norm, name) VALUES (:n, :name)"),
        {"n": norm, "name": body.name},
    )
    session.execute(
        text(
            "INSERT INTO party_coalition_members (coalition_norm, party_id, position)"
            " VALUES (:n, :p, :i)"
        ),
        [{"n": norm, "p": p, "i": i} for i, p in enumerate(body.members)],
    )
    return _act(
        session,
        actor=actor,
        action="party.coalition_declared",
        entity_type="coalition",
        entity_id=body.name,
        summary=f"coalition {body.name!r} was declared as {', '.join(body.members)}",
        before=None,
        after=body.model_dump(mode="json", exclude={"reason"}),
        reason=body.reason,
        names=[norm],
        party_ids=[],
    )
