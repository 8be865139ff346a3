"""Re-attribution after a curation act of the party directory.

Each act (``service.party.curation``) queues one job in ``curation_jobs``, in the act's own
transaction, naming what it touched: normalised names and party ids. A run re-resolves, as
of each event's own local day, only the stored reports and then incidents that name one of
those names (in their raw perpetrator or target, a coalition string included) or carry one
of those parties, with the one attribution of intake (``report.service.attribute``) against
the directory as it stands now. Rows whose attribution changed are updated through their
normal columns (the rollup triggers keep every tally exact) and audited, each linked to the
job and its act. Finally each affected local day that has a digest is built again, by the
digest package, with the reason in its revision's ``changes``.

Batches are committed with the job's progress (cursor, counts, days), and re-resolving is a
pure function of the stored row and the directory, so a crashed run resumes where it
stopped and a repeated run changes nothing more: idempotent by design. Runners lock a job's
row (``FOR UPDATE SKIP LOCKED``) per batch, so two runners never work on one job at once.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.audit.service import Actor, record_many
from service.digest.service import build_days, buildable_days
from service.errors import NotFound
from service.party.service import PartyDirectory
from service.report.service import ATTRIBUTION_COLUMNS, attribute
from service.text import normalise_name, normalise_sql
from service.theatre.terms import Terms, load_terms, theatre_today

BATCH_SIZE = 500
CURATION = Actor(key_id=None, label="curation")


def affected_names(session: Session, party_ids: list[str]) -> list[str]:
    """Every normalised name that can resolve to one of ``party_ids``: their aliases (any
    period) and the coalitions they belong to."""
    if not party_ids:
        return []
    return list(
        session.execute(
            text(
                "SELECT alias_norm FROM party_aliases WHERE party_id = ANY(:ids)"
                " UNION SELECT coalition_norm FROM party_coalition_members"
                " WHERE party_id = ANY(:ids) ORDER BY 1"
            ),
            {"ids": party_ids},
        ).scalars()
    )


def enqueue(
    session: Session,
    *,
    action: str,
    summary: str,
    actor: Actor,
    names: list[str],
    party_ids: list[str],
) -> int:
    """Queue the re-attribution of an act, in the caller's transaction (the act and its job
    commit together). Returns the job's id."""
    all_names = sorted({normalise_name(n) for n in names} | set(affected_names(session, party_ids)))
    return session.execute(
        text(
            "INSERT INTO curation_jobs (action, summary, actor, actor_key_id, names, party_ids)"
            " VALUES (:action, :summary, :actor, :key, :names, :party_ids) RETURNING id"
        ),
        {
            "action": action,
            "summary": summary,
            "actor": actor.label,
            "key": actor.key_id,
            "names": [n for n in all_names if n],
            "party_ids": sorted(set(party_ids)),
        },
    ).scalar_one()


# ---- reading ----

_JOB_COLUMNS = (
    "id, action, summary, actor, names, party_ids, status, phase, reports_checked,"
    " reports_changed, incidents_checked, incidents_changed,"
    " cardinality(ARRAY(SELECT DISTINCT unnest(days))) AS days_affected, digest_revisions,"
    " created_at, started_at, finished_at"
)


def list_jobs(*, session: Session, status: str | None, limit: int) -> list[dict[str, Any]]:
    rows = session.execute(
        text(
            f"SELECT {_JOB_COLUMNS} FROM curation_jobs"
            " WHERE CAST(:status AS text) IS NULL OR status = :status ORDER BY id DESC LIMIT :limit"
        ),
        {"status": status, "limit": limit},
    )
    return [dict(r._mapping) for r in rows]


def get_job(*, session: Session, job_id: int) -> dict[str, Any]:
    row = session.execute(
        text(f"SELECT {_JOB_COLUMNS} FROM curation_jobs WHERE id = :id"), {"id": job_id}
    ).first()
    if row is None:
        raise NotFound(f"no curation job {job_id}")
    return dict(row._mapping)


# ---- running ----


@dataclass
class RunOutcome:
    job_id: int
    summary: str
    status: str
    reports_changed: int
    incidents_changed: int
    digest_revisions: int


def _candidates(table: str) -> str:
    """The next batch of ``table``'s rows naming the job's names or carrying its parties."""
    return (
        f"SELECT id, occurred_at, perpetrator_raw, target_raw, {', '.join(ATTRIBUTION_COLUMNS)}"
        f" FROM {table}"
        " WHERE (CAST(:cursor AS uuid) IS NULL OR id > :cursor)"
        " AND (perpetrator_party_id = ANY(:party_ids) OR target_party_id = ANY(:party_ids)"
        f" OR {normalise_sql('perpetrator_raw')} LIKE ANY(:patterns)"
        f" OR {normalise_sql('target_raw')} LIKE ANY(:patterns))"
        " ORDER BY id LIMIT :limit"
    )


_UPDATE = (
    "UPDATE {table} t SET perpetrator_party_id = x.perpetrator_party_id,"
    " target_party_id = x.target_party_id, responsible_guarantors = x.responsible_guarantors,"
    " ceasefire_status = x.ceasefire_status, updated_at = clock_timestamp()"
    " FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(id uuid, perpetrator_party_id text,"
    " target_party_id text, responsible_guarantors varchar[], ceasefire_status text)"
    " WHERE t.id = x.id"
)


def _attribution(row: Any) -> dict[str, Any]:
    return {
        c: (list(row[c]) if c == "responsible_guarantors" else row[c]) for c in ATTRIBUTION_COLUMNS
    }


def _batch(
    session: Session,
    job: Any,
    *,
    table: str,
    cursor: uuid.UUID | None,
    directory: PartyDirectory,
    terms: Terms,
    limit: int,
) -> tuple[int, list[dict[str, Any]], uuid.UUID | None]:
    """Re-attribute one batch of ``table``: (rows checked, rows changed with their local
    day, the last id seen, or None when the table is done)."""
    rows = session.execute(
        text(_candidates(table)),
        {
            "cursor": cursor,
            "party_ids": list(job.party_ids),
            "patterns": [f"%{n}%" for n in job.names],
            "limit": limit,
        },
    ).all()
    changed = []
    for row in rows:
        m = row._mapping
        before = _attribution(m)
        derived = attribute(
            occurred_at=m["occurred_at"],
            perpetrator=m["perpetrator_raw"],
            target=m["target_raw"],
            directory=directory,
            terms=terms,
        )
        after = {c: derived[c] for c in ATTRIBUTION_COLUMNS}
        if after != before:
            changed.append(
                {
                    "id": m["id"],
                    "day": terms.local_date(m["occurred_at"]),
                    "before": before,
                    **after,
                }
            )
    if changed:
        payload = [{k: v for k, v in c.items() if k not in ("day", "before")} for c in changed]
        session.execute(
            text(_UPDATE.format(table=table)),
            {"rows": orjson.dumps(payload, default=str).decode()},
        )
        kind = table.rstrip("s")
        record_many(
            session,
            actor=CURATION,
            action=f"{kind}.reattributed",
            entity_type=kind,
            events=[
                (str(c["id"]), c["before"], {k: c[k] for k in ATTRIBUTION_COLUMNS}) for c in changed
            ],
            reason=f"curation job {job.id} ({job.action}): {job.summary}",
        )
    last = rows[-1].id if len(rows) == limit else None
    return len(rows), changed, last


def _lock_job(session: Session, job_id: int) -> Any:
    return session.execute(
        text(
            "SELECT * FROM curation_jobs WHERE id = :id AND status <> 'done' FOR UPDATE SKIP LOCKED"
        ),
        {"id": job_id},
    ).first()


def _rows_phase(session: Session, job: Any, *, limit: int) -> None:
    """One batch of the job's current phase (reports, then incidents), its progress saved."""
    directory, terms = PartyDirectory.load(session), load_terms(session)
    table, cursor_col = (
        ("reports", "report_cursor") if job.phase == "reports" else ("incidents", "incident_cursor")
    )
    checked, changed, last = _batch(
        session,
        job,
        table=table,
        cursor=getattr(job, cursor_col),
        directory=directory,
        terms=terms,
        limit=limit,
    )
    next_phase = (
        job.phase if last is not None else ("incidents" if table == "reports" else "digests")
    )
    session.execute(
        text(
            f"UPDATE curation_jobs SET {cursor_col} = :cursor, phase = :phase,"
            f" {table}_checked = {table}_checked + :checked,"
            f" {table}_changed = {table}_changed + :changed,"
            " days = days || CAST(:days AS date[]),"
            " status = 'running', started_at = coalesce(started_at, now())"
            " WHERE id = :id"
        ),
        {
            "cursor": last,
            "phase": next_phase,
            "checked": checked,
            "changed": len(changed),
            # Digests count incidents: their days are the ones to revise.
            "days": [c["day"] for c in changed] if table == "incidents" else [],
            "id": job.id,
        },
    )


def _digest_reason(job: Any, count: int) -> str:
    return (
        f"re-attributed {count} incident{'s' if count != 1 else ''} after {job.summary}"
        f" (curation job {job.id})"
    )


def _digests_phase(session: Session, job: Any) -> int:
    """A new revision of each affected day's digest (those already built), saying why."""
    terms = load_terms(session)
    earliest, latest = buildable_days(terms, theatre_today(session, terms))
    per_day = Counter(job.days)
    built = set(
        session.execute(
            text("SELECT DISTINCT digest_date FROM digest_revisions WHERE digest_date = ANY(:d)"),
            {"d": sorted(per_day)},
        ).scalars()
    )
    revisions = 0
    for day in sorted(d for d in per_day if d in built and earliest <= d <= latest):
        outcomes = build_days(
            session=session,
            first=day,
            last=day,
            actor=CURATION,
            reason=_digest_reason(job, per_day[day]),
        )
        revisions += sum(1 for o in outcomes if o.created)
    session.execute(
        text(
            "UPDATE curation_jobs SET phase = 'done', status = 'done', finished_at = now(),"
            " digest_revisions = digest_revisions + :n, started_at = coalesce(started_at, now())"
            " WHERE id = :id"
        ),
        {"n": revisions, "id": job.id},
    )
    return revisions


def run_pending(
    session_factory: Callable[[], Session],
    *,
    batch_size: int = BATCH_SIZE,
    max_batches: int | None = None,
) -> list[RunOutcome]:
    """Run every unfinished job, oldest first, one committed batch at a time; ``max_batches``
    stops early (as a crash would), leaving the rest for the next run."""
    with session_factory() as session:
        pending = list(
            session.execute(
                text("SELECT id FROM curation_jobs WHERE status <> 'done' ORDER BY id")
            ).scalars()
        )
    outcomes = []
    batches = 0
    for job_id in pending:
        while max_batches is None or batches < max_batches:
            with session_factory() as session:
                job = _lock_job(session, job_id)
                if job is None:  # done, or another runner holds it
                    break
                if job.phase == "digests":
                    _digests_phase(session, job)
                else:
                    _rows_phase(session, job, limit=batch_size)
                session.commit()
            batches += 1
        with session_factory() as session:
            row = session.execute(
                text(
                    "SELECT id, summary, status, reports_changed, incidents_changed,"
                    " digest_revisions FROM curation_jobs WHERE id = :id"
                ),
                {"id": job_id},
            ).one()
        outcomes.append(RunOutcome(*row))
    return outcomes


def describe(outcomes: list[RunOutcome]) -> str:
    if not outcomes:
        return "no curation job pending"
    return "; ".join(
        f"job {o.job_id} {o.status}: {o.reports_changed} report(s), {o.incidents_changed}"
        f" incident(s) re-attributed, {o.digest_revisions} digest revision(s)"
        for o in outcomes
    )
