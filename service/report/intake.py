"""The HTTP API's report intake: one report or a batch, with Idempotency-Key replay.

Both go through ``submit`` (the same code path as an import) and return the exact response
document to send, which is also what an Idempotency-Key replays.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy.orm import Session

from service.config import get_settings
from service.errors import PROBLEM_BASE, Invalid, PayloadTooLarge, ServiceError
from service.report import idempotency
from service.report.idempotency import StoredResponse
from service.report.schemas import BatchResult, ReportCreate, ReportRead
from service.report.service import Submitter, invalid_field, record_refusals, submit


def render_report(report: dict[str, Any]) -> bytes:
    """The report as the API shows it (``reporter`` only when the dict carries it)."""
    return ReportRead.model_validate(report).model_dump_json(exclude_unset=True).encode()


def _fingerprint(kind: str, canonical: bytes) -> str:
    return hashlib.sha256(kind.encode() + b"\n" + canonical).hexdigest()


def _problem(exc: ServiceError, *, prefix: str | None = None) -> dict[str, Any]:
    """A refused item's problem document; ``prefix`` replaces ``body`` in field paths."""
    errors = exc.errors or []
    if prefix is not None:
        errors = [
            {**e, "field": prefix + e["field"][len("body") :]}
            if e["field"].startswith("body")
            else e
            for e in errors
        ]
    problem: dict[str, Any] = {
        "type": PROBLEM_BASE + exc.slug,
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
    }
    if errors:
        problem["errors"] = errors
    return problem


def validation_problem(exc: ValidationError, *, prefix: str = "body") -> Invalid:
    """A pydantic error as the service's 422, fields named like FastAPI names them."""
    errors = [
        {
            "field": ".".join([prefix, *(str(part) for part in err["loc"])]),
            "message": err["msg"],
        }
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    if len(errors) > 5:
        detail += f" (and {len(errors) - 5} more)"
    return Invalid(detail, errors=errors)


def create_report(
    *,
    session: Session,
    submitter: Submitter,
    report_in: ReportCreate,
    idempotency_key: str | None,
    reporter: dict[str, Any] | None = None,
) -> StoredResponse:
    """One report, answered 201 with the report as stored (the original answer for a retry).

    ``reporter`` is shown in the answer when given (verifiers and admins). Does not commit.
    """
    fingerprint = _fingerprint(
        "report", orjson.dumps(report_in.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    )
    if idempotency_key is not None:
        stored = idempotency.claim(
            session=session,
            api_key_id=submitter.key_id,
            key=idempotency_key,
            request_hash=fingerprint,
        )
        if stored is not None:
            return stored
    [outcome] = submit(session=session, submitter=submitter, reports_in=[report_in])
    if outcome.error is not None:
        if outcome.refusal is not None:
            # A refused corroboration is worth a trace (OWASP API5), as a denied access is:
            # the rest of the request is undone, the audit record committed on its own.
            session.rollback()
            record_refusals(session, actor=submitter.actor, outcomes=[outcome])
            session.commit()
        raise outcome.error
    report = dict(outcome.report or {})
    if reporter is not None:
        report["reporter"] = reporter
    response = StoredResponse(status=201, body=render_report(report), resource_id=report["id"])
    if idempotency_key is not None:
        idempotency.store(
            session=session, api_key_id=submitter.key_id, key=idempotency_key, response=response
        )
    return response


def create_batch(
    *,
    session: Session,
    submitter: Submitter,
    items: list[Any],
    idempotency_key: str | None,
    reporter: dict[str, Any] | None = None,
) -> StoredResponse:
    """Each item validated and stored on its own; one result per item, in order.

    Every item needs a ``client_report_id``, so that sending the same batch again stores
    nothing new. Does not commit.
    """
    limit = get_settings().batch_max_items
    if len(items) > limit:
        raise PayloadTooLarge(f"a batch holds at most {limit} reports; this one has {len(items)}")
    if idempotency_key is not None:
        # Items may be anything at this point; the standard library serialises all of it.
        canonical = json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        stored = idempotency.claim(
            session=session,
            api_key_id=submitter.key_id,
            key=idempotency_key,
            request_hash=_fingerprint("batch", canonical.encode("utf-8")),
        )
        if stored is not None:
            return stored

    results: list[dict[str, Any] | None] = [None] * len(items)
    valid: list[tuple[int, ReportCreate]] = []
    for i, item in enumerate(items):
        prefix = f"body.reports.{i}"
        try:
            report_in = ReportCreate.model_validate(item)
        except ValidationError as exc:
            problem = _problem(validation_problem(exc, prefix=prefix))
            results[i] = {"index": i, "status": 422, "problem": problem}
            continue
        if report_in.client_report_id is None:
            problem = invalid_field(
                "client_report_id",
                "required in a batch, so that sending the batch again stores nothing new",
            )
            results[i] = {"index": i, "status": 422, "problem": _problem(problem, prefix=prefix)}
            continue
        valid.append((i, report_in))

    outcomes = submit(session=session, submitter=submitter, reports_in=[r for _, r in valid])
    for (i, _), outcome in zip(valid, outcomes, strict=True):
        if outcome.error is not None:
            problem = _problem(outcome.error, prefix=f"body.reports.{i}")
            results[i] = {"index": i, "status": outcome.status, "problem": problem}
        else:
            report = dict(outcome.report or {})
            if reporter is not None:
                report["reporter"] = reporter
            results[i] = {"index": i, "status": outcome.status, "report": report}

    accepted = sum(1 for r in results if r is not None and r["status"] == 201)
    document = BatchResult.model_validate(
        {"results": results, "accepted": accepted, "refused": len(items) - accepted}
    )
    response = StoredResponse(
        status=200, body=document.model_dump_json(exclude_unset=True).encode()
    )
    if idempotency_key is not None:
        idempotency.store(
            session=session, api_key_id=submitter.key_id, key=idempotency_key, response=response
        )
    return response
