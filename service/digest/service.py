"""Building, storing and reading digest revisions.

A build computes the figures of one or more days and compares each day with its latest
revision: equal figures (same content hash) write nothing; different figures write a new,
immutable revision with a summary of what changed, and queue a webhook delivery for every
subscription in scope. Builders take turns on a transaction-level advisory lock, and
``(digest_date, revision)`` is unique, so concurrent builders never write two revisions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from service import locks
from service.audit.service import Actor, record_many
from service.config import get_settings
from service.digest import disclosure
from service.digest.compute import (
    FIGURES,
    DayFigures,
    DigestSettings,
    compute_days,
    first_day,
    iso,
)
from service.errors import Invalid, NotFound
from service.theatre.terms import Terms, load_terms, theatre_today

SCHEDULER = Actor(key_id=None, label="scheduler")


def digest_settings() -> DigestSettings:
    s = get_settings()
    return DigestSettings(
        trailing_days=s.digest_trailing_days,
        compliance_days=s.digest_compliance_days,
        hotspots=s.digest_hotspots,
    )


def dumps(document: Any) -> bytes:
    """The one serialisation of stored documents (orjson keeps insertion order)."""
    return orjson.dumps(document)


def content_hash(figures: DayFigures) -> str:
    canonical = orjson.dumps(
        {"document": figures.document, "scopes": figures.scopes}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).hexdigest()


# ---- building ----


@dataclass(frozen=True)
class BuildOutcome:
    day: dt.date
    revision: int
    created: bool
    changes: dict[str, Any] | None


def buildable_days(terms: Terms, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day a digest can be built for: from the ceasefire's first day to
    yesterday (a day is summed up once it has ended in the theatre's time zone)."""
    return first_day(terms), today - dt.timedelta(days=1)


def _check_range(terms: Terms, today: dt.date, first: dt.date, last: dt.date) -> None:
    earliest, latest = buildable_days(terms, today)
    if first > last:
        raise Invalid(f"the range is empty: {first} is after {last}")
    if first < earliest:
        raise Invalid(f"{first} is before the ceasefire's first day ({earliest})")
    if last > latest:
        raise Invalid(
            f"{last} has not ended yet in {terms.timezone.key}: the latest day is {latest}"
        )


def _diff(before: dict[str, Any], after: dict[str, Any], previous_revision: int) -> dict:
    """What changed between two revisions' figures, for people and for webhook scoping."""
    totals = {
        f: {"before": before["document"]["totals"][f], "after": after["document"]["totals"][f]}
        for f in FIGURES
        if before["document"]["totals"][f] != after["document"]["totals"][f]
    }
    sections = sorted(k for k, v in after["document"].items() if before["document"].get(k) != v)
    provinces = sorted(
        pcode for pcode, v in after["scopes"].items() if before["scopes"].get(pcode) != v
    )
    names = {p["pcode"]: p["name_en"] for p in after["document"]["by_province"]}
    parts = [f"{f} {v['before']} -> {v['after']}" for f, v in totals.items()]
    if provinces:
        parts.append("changed in " + ", ".join(f"{names.get(p, p)} ({p})" for p in provinces))
    elif sections:
        parts.append("changed: " + ", ".join(sections))
    return {
        "from_revision": previous_revision,
        "summary": "; ".join(parts) or "figures changed",
        "totals": totals,
        "sections": sections,
        "provinces": provinces,
    }


_LATEST = text(
    """
    SELECT DISTINCT ON (digest_date) id, digest_date, revision, content_hash, public_hash,
           public_revision
    FROM digest_revisions
    WHERE digest_date BETWEEN :first AND :last
    ORDER BY digest_date, revision DESC
    """
)
_INSERT = text(
    """
    INSERT INTO digest_revisions (digest_date, revision, content_hash, generated_at, body,
                                  scopes, changes, changed_provinces, public_hash,
                                  public_revision, public_body, public_scopes,
                                  public_changed_provinces)
    SELECT x.digest_date, x.revision, x.content_hash, x.generated_at, x.body, x.scopes,
           x.changes, x.changed_provinces, x.public_hash, x.public_revision, x.public_body,
           x.public_scopes, x.public_changed_provinces
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(
        digest_date date, revision int, content_hash text, generated_at timestamptz,
        body text, scopes text, changes jsonb, changed_provinces varchar[],
        public_hash text, public_revision int, public_body text, public_scopes text,
        public_changed_provinces varchar[])
    ON CONFLICT ON CONSTRAINT uq_digest_revisions_date_revision DO NOTHING
    RETURNING id, digest_date, revision
    """
)
# A subscription hears of a revision of a day when its governorate's figures changed (or
# always, for a first revision or without a governorate filter).
_ENQUEUE = text(
    """
    INSERT INTO deliveries (id, subscription_id, digest_revision_id, next_attempt_at)
    SELECT gen_random_uuid(), s.id, r.id, now()
    FROM digest_revisions r
    JOIN subscriptions s ON s.deleted_at IS NULL
        AND (s.province_pcode IS NULL OR r.changed_provinces IS NULL
             OR s.province_pcode = ANY(r.changed_provinces))
    WHERE r.id = ANY(:ids)
    ON CONFLICT ON CONSTRAINT uq_deliveries_subscription_revision DO NOTHING
    """
)


_LATEST_PUBLIC = text(
    """
    SELECT DISTINCT ON (digest_date) id, digest_date
    FROM digest_revisions
    WHERE digest_date BETWEEN :first AND :last AND public_body IS NOT NULL
    ORDER BY digest_date, public_revision DESC
    """
)


def _load_figures(
    session: Session, ids: list[int], *, public: bool = False
) -> dict[int, dict[str, Any]]:
    """Stored revisions' figures (full or public) in the shape ``content_hash`` and
    ``_diff`` use."""
    if not ids:
        return {}
    columns = "public_body AS body, public_scopes AS scopes" if public else "body, scopes"
    rows = session.execute(
        text(f"SELECT id, {columns} FROM digest_revisions WHERE id = ANY(:ids)"), {"ids": ids}
    )
    out = {}
    for row in rows:
        document = orjson.loads(row.body)
        for volatile in ("revision", "generated_at", "changes"):
            document.pop(volatile)
        out[row.id] = {"document": document, "scopes": orjson.loads(row.scopes)}
    return out


def _public_columns(
    figures: DayFigures,
    *,
    before_revision: int | None,
    before_id: int | None,
    previous: dict[int, dict[str, Any]],
    changed: bool,
    generated_at: dt.datetime,
) -> dict[str, Any]:
    """The public view's columns of a new revision: its document only when its figures
    changed (numbered in the public's own sequence), else the previous public revision's
    number, so the public sees no revision that only reports it cannot see made."""
    if not changed:
        return {
            "public_revision": before_revision,
            "public_body": None,
            "public_scopes": None,
            "public_changed_provinces": None,
        }
    revision = 1 if before_id is None or before_revision is None else before_revision + 1
    changes = None
    if before_id is not None and before_id in previous and revision > 1:
        changes = _diff(
            previous[before_id],
            {"document": figures.document, "scopes": figures.scopes},
            revision - 1,
        )
    header = {
        "date": figures.document["date"],
        "timezone": figures.document["timezone"],
        "revision": revision,
        "generated_at": iso(generated_at, timespec="milliseconds"),
    }
    return {
        "public_revision": revision,
        "public_body": dumps({**header, **figures.document, "changes": changes}).decode(),
        "public_scopes": dumps(figures.scopes).decode(),
        "public_changed_provinces": changes["provinces"] if changes else None,
    }


def _lock_builds(session: Session) -> None:
    namespace, key = locks.advisory_key(locks.DIGEST_BUILD)
    session.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": namespace, "key": key})


def build_days(
    *,
    session: Session,
    first: dt.date,
    last: dt.date,
    notify: bool = True,
    actor: Actor = SCHEDULER,
    reason: str | None = None,
) -> list[BuildOutcome]:
    """Build the digests of ``first``..``last`` and store those whose figures changed.

    Does not commit; the caller commits (which also releases the builders' lock). With
    ``notify``, new revisions are queued for webhook delivery; a backfill of old days
    usually does not want that. ``reason`` says why the figures changed (e.g. a curation
    act's re-attribution): a new revision's ``changes`` carry it and its summary leads
    with it.
    """
    terms = load_terms(session)
    _check_range(terms, theatre_today(session, terms), first, last)
    # Builders take turns: a second builder sees the first one's revision, writes nothing.
    _lock_builds(session)
    settings = digest_settings()
    days = compute_days(session=session, terms=terms, first=first, last=last, settings=settings)
    # The public view: the same digest of verified incidents only (service/digest/disclosure).
    public_days = {
        d.day: d
        for d in compute_days(
            session=session, terms=terms, first=first, last=last, settings=settings, public=True
        )
    }
    latest = {r.digest_date: r for r in session.execute(_LATEST, {"first": first, "last": last})}
    hashes = {d.day: content_hash(d) for d in days}
    public_hashes = {day: content_hash(d) for day, d in public_days.items()}

    def public_changed(day: dt.date) -> bool:
        return day not in latest or latest[day].public_hash != public_hashes[day]

    changed = [
        d
        for d in days
        if d.day not in latest
        or latest[d.day].content_hash != hashes[d.day]
        or public_changed(d.day)
    ]
    previous = _load_figures(session, [latest[d.day].id for d in changed if d.day in latest])
    latest_public = {
        r.digest_date: r.id for r in session.execute(_LATEST_PUBLIC, {"first": first, "last": last})
    }
    previous_public = _load_figures(
        session,
        [latest_public[d.day] for d in changed if public_changed(d.day) and d.day in latest_public],
        public=True,
    )
    generated_at: dt.datetime = session.execute(text("SELECT now()")).scalar_one()

    outcomes = {
        d.day: BuildOutcome(d.day, latest[d.day].revision, False, None)
        for d in days
        if d.day in latest
    }
    rows = []
    for figures in changed:
        before = latest.get(figures.day)
        revision = before.revision + 1 if before else 1
        changes = None
        if before is not None:
            changes = _diff(
                previous[before.id],
                {"document": figures.document, "scopes": figures.scopes},
                before.revision,
            )
            if before.content_hash == hashes[figures.day]:
                # Only the public view moved: a verification changed what the public sees.
                changes["summary"] = "these figures did not change; the public view did"
            if reason is not None:
                changes["reason"] = reason
                changes["summary"] = f"{reason}: {changes['summary']}"
        header = {
            "date": figures.document["date"],
            "timezone": figures.document["timezone"],
            "revision": revision,
            "generated_at": iso(generated_at, timespec="milliseconds"),
        }
        document = {**header, **figures.document, "changes": changes}
        public = _public_columns(
            public_days[figures.day],
            before_revision=before.public_revision if before is not None else None,
            before_id=latest_public.get(figures.day),
            previous=previous_public,
            changed=public_changed(figures.day),
            generated_at=generated_at,
        )
        rows.append(
            {
                "digest_date": figures.day.isoformat(),
                "revision": revision,
                "content_hash": hashes[figures.day],
                "generated_at": generated_at.isoformat(),
                "body": dumps(document).decode(),
                "scopes": dumps(figures.scopes).decode(),
                "changes": changes,
                "changed_provinces": changes["provinces"] if changes else None,
                "public_hash": public_hashes[figures.day],
                **public,
            }
        )
        outcomes[figures.day] = BuildOutcome(figures.day, revision, True, changes)

    inserted = []
    if rows:
        inserted = session.execute(_INSERT, {"rows": dumps(rows).decode()}).all()
    written = {(r.digest_date, r.revision) for r in inserted}
    for day, outcome in outcomes.items():
        if outcome.created and (day, outcome.revision) not in written:
            # Another writer got there first (only possible around the lock): not ours.
            outcomes[day] = BuildOutcome(day, outcome.revision, False, None)
    if inserted and notify:
        session.execute(_ENQUEUE, {"ids": [r.id for r in inserted]})
    record_many(
        session,
        actor=actor,
        action="digest.revised",
        entity_type="digest",
        events=[
            (
                f"{r.digest_date.isoformat()}/{r.revision}",
                None,
                {"revision": r.revision, "changes": outcomes[r.digest_date].changes},
            )
            for r in inserted
        ],
    )
    return [outcomes[d.day] for d in days]


# ---- reading ----


@dataclass(frozen=True)
class StoredRevision:
    """A stored revision as one audience sees it: the full document, or (``public``) the
    public one, numbered in the public's own sequence of revisions."""

    id: int
    digest_date: dt.date
    revision: int
    generated_at: dt.datetime
    content_hash: str
    body: str
    scopes: str
    changes: dict[str, Any] | None
    public: bool = False


_COLUMNS = "id, digest_date, revision, generated_at, content_hash, body, {scopes}, changes"
# The public sees the revisions whose public figures changed, by their public number.
_PUBLIC_COLUMNS = (
    "id, digest_date, public_revision AS revision, generated_at, public_hash AS content_hash,"
    " public_body AS body, {scopes}, NULL AS changes, true AS public"
)


def _columns(public: bool, *, scopes: bool = True) -> tuple[str, str, str]:
    """(columns, the condition a row must meet, the revision column) for one audience;
    without ``scopes``, the per-governorate sections are not read (a view of the whole
    theatre does not need them)."""
    columns = (_PUBLIC_COLUMNS if public else _COLUMNS).format(
        scopes=("public_scopes AS scopes" if public else "scopes") if scopes else "'{}' AS scopes"
    )
    if public:
        return columns, "public_body IS NOT NULL", "public_revision"
    return columns, "true", "revision"


def _stored(row: Any) -> StoredRevision:
    return StoredRevision(**row._mapping)


def get_revision(
    *, session: Session, day: dt.date, revision: int | None = None, public: bool = False
) -> StoredRevision:
    """A day's revision ``revision``, or its latest (of the public view, with ``public``)."""
    columns, condition, number = _columns(public)
    row = session.execute(
        text(
            f"SELECT {columns} FROM digest_revisions WHERE digest_date = :day AND {condition}"
            f" AND (CAST(:revision AS int) IS NULL OR {number} = :revision)"
            f" ORDER BY {number} DESC LIMIT 1"
        ),
        {"day": day, "revision": revision},
    ).first()
    if row is None:
        if revision is not None and _has_digest(session, day, public):
            raise NotFound(f"the digest of {day} has no revision {revision}")
        raise NotFound(
            f"no digest for {day}: digests are built once the day has ended in the theatre's"
            " time zone, from the ceasefire's first day on"
        )
    return _stored(row)


def _has_digest(session: Session, day: dt.date, public: bool = False) -> bool:
    _, condition, _ = _columns(public)
    return (
        session.execute(
            text(
                f"SELECT 1 FROM digest_revisions WHERE digest_date = :day AND {condition} LIMIT 1"
            ),
            {"day": day},
        ).first()
        is not None
    )


def latest_revision(*, session: Session, public: bool = False) -> StoredRevision:
    """The latest revision of the most recent day that has a digest."""
    columns, condition, number = _columns(public)
    row = session.execute(
        text(
            f"SELECT {columns} FROM digest_revisions WHERE {condition}"
            f" ORDER BY digest_date DESC, {number} DESC LIMIT 1"
        )
    ).first()
    if row is None:
        raise NotFound("no digest has been built yet")
    return _stored(row)


@dataclass(frozen=True)
class Neighbours:
    """The days before and after one that have a digest (for one audience), and when the
    later-built of the two got its first digest: since then, the prev/next links of the
    day's document are what they are."""

    prev: dt.date | None
    next: dt.date | None
    appeared_at: dt.datetime | None


def neighbours(*, session: Session, day: dt.date, public: bool = False) -> Neighbours:
    """The nearest days before and after ``day`` that have a digest, in one statement."""
    _, condition, _ = _columns(public)
    row = session.execute(
        text(
            f"""
            WITH around AS (
                SELECT (SELECT max(digest_date) FROM digest_revisions
                        WHERE digest_date < :day AND {condition}) AS prev,
                       (SELECT min(digest_date) FROM digest_revisions
                        WHERE digest_date > :day AND {condition}) AS next
            )
            SELECT around.prev, around.next,
                   greatest((SELECT min(generated_at) FROM digest_revisions
                             WHERE digest_date = around.prev AND {condition}),
                            (SELECT min(generated_at) FROM digest_revisions
                             WHERE digest_date = around.next AND {condition})) AS appeared_at
            FROM around
            """
        ),
        {"day": day},
    ).one()
    return Neighbours(row.prev, row.next, row.appeared_at)


def latest_of_days(
    *, session: Session, first: dt.date, last: dt.date, province: str | None, public: bool = False
) -> list[StoredRevision]:
    """The latest revision of every day from ``first`` to ``last`` that has a digest (for
    one audience), oldest day first; ready for ``view`` of ``province`` (or of all)."""
    columns, condition, number = _columns(public, scopes=province is not None)
    rows = session.execute(
        text(
            f"SELECT DISTINCT ON (digest_date) {columns} FROM digest_revisions"
            f" WHERE digest_date BETWEEN :first AND :last AND {condition}"
            f" ORDER BY digest_date, {number} DESC"
        ),
        {"first": first, "last": last},
    )
    return [_stored(row) for row in rows]


def list_revisions(*, session: Session, day: dt.date, public: bool = False) -> list[dict[str, Any]]:
    """Every revision of a day, oldest first; for the public, every public revision, with
    what changed in the public figures (small numbers suppressed)."""
    if public:
        rows = session.execute(
            text(
                "SELECT digest_date, public_revision AS revision, generated_at,"
                " public_hash AS content_hash, public_body AS body FROM digest_revisions"
                " WHERE digest_date = :day AND public_body IS NOT NULL ORDER BY public_revision"
            ),
            {"day": day},
        ).all()
        out = []
        for row in rows:
            document = orjson.loads(row.body)
            changes = document["changes"]
            if changes is not None:
                changes = disclosure.public_changes(
                    changes, k=get_settings().public_min_count, names=_names(document)
                )
            out.append({**row._mapping, "changes": changes})
        out = [{k: v for k, v in r.items() if k != "body"} for r in out]
    else:
        rows = session.execute(
            text(
                "SELECT digest_date, revision, generated_at, content_hash, changes"
                " FROM digest_revisions WHERE digest_date = :day ORDER BY revision"
            ),
            {"day": day},
        ).all()
        out = [dict(row._mapping) for row in rows]
    if not out:
        get_revision(session=session, day=day, public=public)  # raises the explanatory 404
    return out


def feed_revisions(
    *, session: Session, limit: int, province: str | None = None, public: bool = False
) -> list[StoredRevision]:
    """The most recent revisions of any day, newest first; with ``province``, those that
    changed its figures (every first revision does). For the public, the revisions whose
    public figures changed."""
    columns, condition, _ = _columns(public)
    changed = "public_changed_provinces" if public else "changed_provinces"
    rows = session.execute(
        text(
            f"SELECT {columns} FROM digest_revisions WHERE {condition}"
            f" AND (CAST(:province AS varchar) IS NULL OR {changed} IS NULL"
            f"    OR :province = ANY({changed}))"
            " ORDER BY generated_at DESC, id DESC LIMIT :limit"
        ),
        {"limit": limit, "province": province},
    )
    return [_stored(row) for row in rows]


def _names(document: dict[str, Any]) -> dict[str, str]:
    return {p["pcode"]: p["name_en"] for p in document["by_province"]}


def view(stored: StoredRevision, province: str | None) -> dict[str, Any]:
    """The document, or its view narrowed to one governorate (same keys, same order). A
    public revision's is given with its small cells suppressed (``disclosure.public_view``,
    at the threshold configured now)."""
    if stored.public:
        k = get_settings().public_min_count
        whole = orjson.loads(stored.body)
        hidden = disclosure.province_suppression(whole["by_province"], k)
        narrowed = _narrow(stored, province) if province is not None else whole
        doc = disclosure.public_view(narrowed, k=k, suppressed_provinces=hidden)
        if doc["changes"] is not None:
            doc["changes"] = disclosure.public_changes(doc["changes"], k=k, names=_names(whole))
        return doc
    if province is None:
        return orjson.loads(stored.body)
    return _narrow(stored, province)


def _narrow(stored: StoredRevision, province: str) -> dict[str, Any]:
    document = orjson.loads(stored.body)
    sections = orjson.loads(stored.scopes).get(province)
    entry = [p for p in document["by_province"] if p["pcode"] == province]
    if sections is None or not entry:
        raise NotFound(f"the digest of {stored.digest_date} has no governorate {province}")
    narrowed: dict[str, Any] = {}
    for key, value in document.items():
        if key == "province":
            narrowed[key] = {"pcode": province, "name_en": entry[0]["name_en"]}
        elif key == "by_province":
            narrowed[key] = entry
        elif key in sections:
            narrowed[key] = sections[key]
        else:
            narrowed[key] = value
    return narrowed


def view_bytes(stored: StoredRevision, province: str | None) -> bytes:
    """The JSON document exactly as stored (or its narrowed view, derived deterministically);
    the public view with its small cells suppressed."""
    if stored.public:
        return dumps(view(stored, province))
    if province is None:
        return stored.body.encode()
    return dumps(view(stored, province))
