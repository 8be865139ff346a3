"""Importing a living data set: rows their source revises later (ACLED).

Each mapped row carries a version (ACLED's ``timestamp``, which changes whenever ACLED edits
the event), and each stored report shows the version it was made from (``stored_version``
reads it back from the report). One query per chunk finds the chunk's reports already stored
by the importer's key; then, for each row:

- no report yet: submitted through ``submit`` like any report (stored, or refused);
- the stored version is the same: a replay, nothing is stored ("already present");
- the stored version is newer: the row is skipped ("older than the stored version");
- the stored version is older: the report is revised through ``revise_report``, the one path
  for revisions (derived again, its incident refreshed, the revision kept, ``report.revised``
  audited with both versions in its reason). Its rules hold: when the incident has been
  reviewed (verified, disputed, rejected) or merged, the report is not revised and the row is
  counted as *held* ("revision held: the report's incident is verified"), so an import never
  overrides a verifier; nor is a revision stored that would no longer corroborate the
  incident its report shares with others. The held row is applied by a later import once the
  incident is unverified again.

Several rows of one event in one chunk: the newest is applied; the others count as replays
(same version) or are skipped (older).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import Conflict, Invalid, ServiceError
from service.importer import acled
from service.importer.rows import Mapped
from service.importer.service import (
    DEFAULT_CHUNK_SIZE,
    REVISED,
    ImportSummary,
    read_csv,
    refusal_reason,
    run_import,
    submit_rows,
)
from service.report.revision import revise_report
from service.report.schemas import ReportUpdate
from service.report.service import Lookups, Outcome, Submitter

ACLED_KEY_NAME = "importer: ACLED"

# Each id looked up by itself (one unique index probe), as ``service._KNOWN`` does: planned
# from statistics, ``client_report_id = ANY(...)`` read every report of the key when there
# were none (after a bulk load, autovacuum off).
_STORED = text(
    "SELECT r.* FROM unnest(CAST(:client_ids AS uuid[])) AS i(client_report_id)"
    " CROSS JOIN LATERAL (SELECT id, client_report_id, incident_id, sources, perpetrator_raw,"
    " perpetrator_party_id, target_raw, target_party_id FROM reports"
    " WHERE reporter_key_id = :key AND client_report_id = i.client_report_id OFFSET 0) AS r"
)


def _newest(mapped: list[Mapped], summary: ImportSummary) -> tuple[list[Mapped], list[Mapped]]:
    """The newest row of each event, in file order, and the same-version repeats; an older
    row of an event is skipped."""
    newest: dict[str, Mapped] = {}
    for item in mapped:
        kept = newest.get(item.source_id)
        if kept is None or item.version > kept.version:
            newest[item.source_id] = item
    repeats = []
    for item in mapped:
        kept = newest[item.source_id]
        if item is kept:
            continue
        if item.version == kept.version:
            repeats.append(item)
        else:
            summary.skip(
                item.source_id,
                "older than another row of the same event in the file",
                f"version {item.version} < {kept.version}",
            )
    return list(newest.values()), repeats


def _as_read(row: Any) -> dict[str, Any]:
    """What the tally and the verification read of a report that is already stored."""
    return {
        "id": row.id,
        "incident_id": row.incident_id,
        "perpetrator": {"raw": row.perpetrator_raw, "party_id": row.perpetrator_party_id},
        "target": {"raw": row.target_raw, "party_id": row.target_party_id},
    }


def _revise(
    session: Session,
    submitter: Submitter,
    item: Mapped,
    *,
    report_id: uuid.UUID,
    stored: int,
    source: str,
    summary: ImportSummary,
    lookups: Lookups,
) -> Outcome | None:
    """Revise the stored report with the row's newer version; None when held or refused
    (counted in ``summary``)."""
    fields = item.report.model_dump(mode="json", exclude={"client_report_id", "incident_id"})
    reason = f"{source} revised {item.source_id}: version {stored} -> {item.version}"
    update = ReportUpdate.model_validate({**fields, "reason": reason})
    try:
        with session.begin_nested():
            after = revise_report(
                session=session,
                report_id=report_id,
                key_id=submitter.key_id,
                actor=submitter.actor,
                update=update,
                hide_others=False,
                lookups=lookups,
            )
    except Conflict as exc:
        # A reviewed or merged incident: the verifier's decision stands.
        summary.refuse(item.source_id, f"revision held: {exc.detail.split(':')[0]}", exc.detail)
        return None
    except Invalid as exc:
        summary.refuse(item.source_id, f"revision refused: {refusal_reason(exc)}", exc.detail)
        return None
    except ServiceError as exc:
        summary.refuse(item.source_id, f"revision refused: {exc.detail}", exc.detail)
        return None
    return Outcome(status=REVISED, report=after)


def store_versions(
    session: Session,
    submitter: Submitter,
    mapped: list[Mapped],
    summary: ImportSummary,
    *,
    stored_version: Callable[[list[dict[str, Any]]], int | None],
    source: str,
) -> list[tuple[Mapped, Outcome]]:
    """Store a chunk of versioned rows (see the module's docstring)."""
    newest, repeats = _newest(mapped, summary)
    found = {
        row.client_report_id: row
        for row in session.execute(
            _STORED,
            {"key": submitter.key_id, "client_ids": [m.report.client_report_id for m in newest]},
        )
    }
    results: list[tuple[Mapped, Outcome]] = []
    new: list[Mapped] = []
    lookups: Lookups | None = None  # loaded once per chunk, at its first revision
    for item in newest:
        row = found.get(item.report.client_report_id)
        if row is None:
            new.append(item)
            continue
        stored = stored_version(row.sources)
        if stored is None:
            summary.refuse(
                item.source_id,
                f"stored report shows no {source} version",
                f"report {row.id} has no {source} source naming the version it shows",
            )
        elif item.version == stored:
            results.append((item, Outcome(status=201, report=_as_read(row))))
        elif item.version < stored:
            summary.skip(
                item.source_id,
                "older than the stored version",
                f"version {item.version} < stored {stored}",
            )
        else:
            lookups = lookups or Lookups.load(session)
            outcome = _revise(
                session,
                submitter,
                item,
                report_id=row.id,
                stored=stored,
                source=source,
                summary=summary,
                lookups=lookups,
            )
            if outcome is not None:
                results.append((item, outcome))
    results += submit_rows(session, submitter, new, summary)
    results += [(item, Outcome(status=201)) for item in repeats]
    return results


def _store_acled(
    session: Session, submitter: Submitter, mapped: list[Mapped], summary: ImportSummary
) -> list[tuple[Mapped, Outcome]]:
    return store_versions(
        session, submitter, mapped, summary, stored_version=acled.stored_version, source="ACLED"
    )


def import_acled(
    *,
    session: Session,
    path: Path,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
    verified_by: str | None = None,
) -> ImportSummary:
    """Import an ACLED export (CSV), committing each chunk; rows ACLED revised since the last
    import revise their reports (see the module's docstring). ``verified_by`` as for UCDP."""
    return run_import(
        session=session,
        items=lambda timezone: read_csv(
            path,
            columns=acled.COLUMNS,
            what="an ACLED export",
            to_report=acled.to_report,
            timezone=timezone,
        ),
        key_name=ACLED_KEY_NAME,
        chunk_size=chunk_size,
        progress=progress,
        verified_by=verified_by,
        store=_store_acled,
    )
