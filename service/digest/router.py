from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from starlette.responses import Response

from service import links
from service.api import negotiate_format
from service.auth.dependencies import OptionalPrincipal
from service.auth.models import Role
from service.auth.service import Principal
from service.config import get_settings
from service.db import SessionDep
from service.digest import render, service
from service.digest.links import (
    DAILY,
    MEDIA_TYPES,
    document_links,
    formats,
    href,
)
from service.digest.schemas import DigestRange, DigestRead, DigestRevisionRead
from service.errors import Forbidden, InvalidParameter, Unauthorized
from service.geography.service import resolve_province
from service.maps.view import FULL_VIEW_ROLES
from service.theatre.terms import load_terms
from service.types import Day

router = APIRouter(prefix="/v1/digests", tags=["digests"])

# Accept media ranges -> format, in our order of preference for wildcards.
_ACCEPTED = {
    "application/json": "json",
    "text/csv": "csv",
    "text/markdown": "md",
    "text/x-markdown": "md",
    "application/*": "json",
    "text/*": "md",
    "*/*": "json",
}
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ceasefire-monitor"'}


def digest_reader(principal: OptionalPrincipal) -> Principal | None:
    """Anyone, unless the settings restrict digests to monitors (and admins)."""
    if get_settings().digests_public:
        return principal
    if principal is None:
        raise Unauthorized(
            "digests are restricted to monitors: an API key is required", headers=_CHALLENGE
        )
    if principal.role not in (Role.monitor, Role.admin):
        raise Forbidden(f"digests are restricted to monitors; this is a {principal.role.value} key")
    return principal


Reader = Annotated[Principal | None, Depends(digest_reader)]


def public_view(principal: Principal | None) -> bool:
    """Whether the caller gets the public view of digests (verified incidents only, small
    cells suppressed): anonymous callers and reporter keys, as on the maps."""
    return principal is None or principal.role not in FULL_VIEW_ROLES


Format = Annotated[
    Literal["json", "csv", "md"] | None,
    Query(description="Overrides the Accept header: json (default), csv or md (Markdown)."),
]
Province = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        description="Narrow the digest to one governorate (P-code or any known name).",
    ),
]
IfNoneMatch = Annotated[str | None, Header(include_in_schema=False)]
IfModifiedSince = Annotated[str | None, Header(include_in_schema=False)]
Accept = Annotated[str | None, Header(include_in_schema=False)]


def negotiate(fmt: str | None, accept: str | None) -> str:
    """The format asked for by ``?format=``, else by ``Accept`` (q-values honoured)."""
    return negotiate_format(
        fmt,
        accept,
        accepted=_ACCEPTED,
        offered="digests are available as application/json, text/csv and text/markdown"
        " (or use ?format=json|csv|md)",
    )


def _province(session: Any, name: str | None) -> str | None:
    if name is None:
        return None
    return resolve_province(session=session, name=name).pcode


def _etag(*parts: bytes) -> str:
    return '"' + hashlib.sha256(b"\n".join(parts)).hexdigest()[:32] + '"'


def _not_modified(
    etag: str, last_modified: dt.datetime, if_none_match: str | None, if_modified_since: str | None
) -> bool:
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if if_modified_since is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            return False
        return last_modified.replace(microsecond=0) <= since
    return False


def _conditional(
    body: bytes,
    media_type: str,
    *,
    last_modified: dt.datetime,
    cache_control: str,
    if_none_match: str | None,
    if_modified_since: str | None,
    extra: dict[str, str] | None = None,
) -> Response:
    # What is served is the body and its links (a CSV's are in the Link header only).
    linked = (extra or {}).get("Link")
    etag = _etag(body, linked.encode()) if linked else _etag(body)
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(last_modified.astimezone(dt.UTC), usegmt=True),
        "Cache-Control": cache_control,
        "Vary": "Accept, Authorization, Accept-Encoding",
        **(extra or {}),
    }
    if _not_modified(etag, last_modified, if_none_match, if_modified_since):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=media_type, headers=headers)


def _cache(immutable: bool, public: bool) -> str:
    # The full view is for its key holder only: never kept by shared caches.
    audience = "public" if get_settings().digests_public and public else "private"
    return f"{audience}, max-age=31536000, immutable" if immutable else f"{audience}, max-age=60"


@dataclass(frozen=True)
class DocumentRequest:
    """What a request for a digest document asks: its format, its scope, its conditions."""

    fmt: str
    province: str | None  # a P-code, resolved from any known name
    if_none_match: str | None
    if_modified_since: str | None


def document_request(
    session: SessionDep,
    format: Format = None,  # noqa: A002 - the query parameter's name
    province: Province = None,
    accept: Accept = None,
    if_none_match: IfNoneMatch = None,
    if_modified_since: IfModifiedSince = None,
) -> DocumentRequest:
    return DocumentRequest(
        fmt=negotiate(format, accept),
        province=_province(session, province),
        if_none_match=if_none_match,
        if_modified_since=if_modified_since,
    )


Asked = Annotated[DocumentRequest, Depends(document_request)]


# ---- links ----


def link_header(items: list[dict[str, str]]) -> str:
    """Links as an HTTP ``Link`` header (RFC 8288)."""
    return ", ".join(f'<{i["href"]}>; rel="{i["rel"]}"; type="{i["type"]}"' for i in items)


def _represent(
    stored: service.StoredRevision,
    asked: DocumentRequest,
    *,
    path: str,
    around: service.Neighbours | None,
) -> Response:
    """A stored revision as asked for, with its links. ``around`` (the neighbouring days)
    for the day's latest document; None for an immutable revision."""
    fmt, province = asked.fmt, asked.province
    doc_links = document_links(stored, asked.fmt, asked.province, path=path, around=around)
    if fmt == "json":
        body = render.with_links(service.view_bytes(stored, province), doc_links)
    else:
        doc = service.view(stored, province)
        body = render.to_csv(doc) if fmt == "csv" else render.to_markdown(doc, doc_links)
    name = f"digest-{stored.digest_date.isoformat()}-r{stored.revision}"
    if province:
        name += f"-{province}"
    # The document changes when a neighbouring day gets its first digest (prev, next).
    last_modified = stored.generated_at
    if around is not None and around.appeared_at is not None:
        last_modified = max(last_modified, around.appeared_at)
    return _conditional(
        body,
        MEDIA_TYPES[fmt],
        last_modified=last_modified,
        cache_control=_cache(around is None, stored.public),
        if_none_match=asked.if_none_match,
        if_modified_since=asked.if_modified_since,
        extra={
            "Content-Disposition": f'inline; filename="{name}.{fmt}"',
            "X-Digest-Revision": str(stored.revision),
            "Link": link_header(doc_links),
        },
    )


_DOCUMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": DigestRead,
        "description": "The digest (JSON, CSV or Markdown); ETag and Last-Modified are set.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "text/markdown": {"schema": {"type": "string"}},
        },
    },
    304: {"description": "Not modified (If-None-Match or If-Modified-Since)"},
    401: {"description": "Digests are restricted and no key was given"},
    403: {"description": "Digests are restricted to monitors"},
    406: {"description": "None of the accepted media types can be produced"},
}
DayPath = Annotated[Day, Path(description="A calendar day in the theatre's time zone.")]


# The most days one request for a range may name.
MAX_RANGE_DAYS = 366
_RANGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_DOCUMENT_RESPONSES,
    200: {
        "model": DigestRange,
        "description": "The days of the range that have a digest, each with its latest"
        " revision's totals and guarantor lines (JSON, CSV or Markdown); ETag and"
        " Last-Modified are set.",
        "content": _DOCUMENT_RESPONSES[200]["content"],
    },
    400: {"description": "A malformed day, `from` after `to`, or more than 366 days"},
}


def _day(stored: service.StoredRevision, province: str | None) -> dict[str, Any]:
    """A day of a range: its document's headline figures (the same view as the day's)."""
    doc = service.view(stored, province)
    return {
        "date": doc["date"],
        "revision": doc["revision"],
        "generated_at": doc["generated_at"],
        "no_violations": doc["no_violations"],
        "days_since_last_verified_violation": doc["days_since_last_verified_violation"],
        "summary": doc["summary"],
        "totals": doc["totals"],
        "by_guarantor": doc["by_guarantor"],
        "href": href(f"{DAILY}/{doc['date']}", "json", province),
    }


@router.get("/daily", response_class=Response, responses=_RANGE_RESPONSES)
def list_daily_digests(
    session: SessionDep,
    reader: Reader,
    asked: Asked,
    first: Annotated[
        Day, Query(alias="from", description="The range's first day (theatre time zone).")
    ],
    last: Annotated[
        Day,
        Query(alias="to", description=f"The range's last day; at most {MAX_RANGE_DAYS} days."),
    ],
) -> Response:
    """A range of days, each with its latest digest revision's totals, guarantor lines
    and a link to the day's digest (the same view as the day's: public without a monitor,
    verifier or admin key; narrowed by `province`). Days without a digest are absent."""
    if first > last:
        raise InvalidParameter("from", f"{first} is after to ({last})")
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS:
        raise InvalidParameter(
            "to", f"the range {first} to {last} has {days} days; at most {MAX_RANGE_DAYS}"
        )
    public = public_view(reader)
    terms = load_terms(session)
    stored = service.latest_of_days(
        session=session, first=first, last=last, province=asked.province, public=public
    )
    entries = [_day(s, asked.province) for s in stored]
    bounds = {"from": first.isoformat(), "to": last.isoformat()}
    range_links = formats(DAILY, asked.fmt, asked.province, **bounds)
    if asked.fmt == "json":
        body = service.dumps(
            {
                **bounds,
                "timezone": terms.timezone.key,
                "province": asked.province,
                "days": entries,
                "links": range_links,
            }
        )
    elif asked.fmt == "csv":
        body = render.range_to_csv(entries, asked.province)
    else:
        scope = f", {asked.province}" if asked.province else ""
        title = f"Daily compliance digests, {first} to {last}{scope}"
        body = render.range_to_markdown(entries, title=title, links=range_links)
    name = f"digests-{first}-{last}" + (f"-{asked.province}" if asked.province else "")
    return _conditional(
        body,
        MEDIA_TYPES[asked.fmt],
        last_modified=max((s.generated_at for s in stored), default=terms.start_at),
        cache_control=_cache(False, public),
        if_none_match=asked.if_none_match,
        if_modified_since=asked.if_modified_since,
        extra={
            "Content-Disposition": f'inline; filename="{name}.{asked.fmt}"',
            "Link": link_header(range_links),
        },
    )


@router.get("/daily/latest", response_class=Response, responses=_DOCUMENT_RESPONSES)
def get_latest_digest(
    session: SessionDep,
    reader: Reader,
    asked: Asked,
) -> Response:
    """The latest revision of the most recent day that has a digest."""
    public = public_view(reader)
    stored = service.latest_revision(session=session, public=public)
    around = service.neighbours(session=session, day=stored.digest_date, public=public)
    return _represent(stored, asked, path=f"{DAILY}/latest", around=around)


@router.get("/daily/{date}", response_class=Response, responses=_DOCUMENT_RESPONSES)
def get_daily_digest(
    date: DayPath,
    session: SessionDep,
    reader: Reader,
    asked: Asked,
) -> Response:
    """The latest revision of a day's digest. Without a monitor, verifier or admin key: the
    public view (verified incidents only; figures about fewer than `public_min_count`
    incidents suppressed and marked `"suppressed": true`; see `disclosure`)."""
    public = public_view(reader)
    stored = service.get_revision(session=session, day=date, public=public)
    around = service.neighbours(session=session, day=date, public=public)
    return _represent(stored, asked, path=f"{DAILY}/{date.isoformat()}", around=around)


@router.get("/daily/{date}/revisions", response_model=list[DigestRevisionRead])
def list_digest_revisions(date: DayPath, session: SessionDep, reader: Reader) -> list[dict]:
    """Every revision of a day's digest, oldest first, with what each one changed (for the
    public view, its own revisions: those that changed its figures)."""
    return [
        {
            "date": r["digest_date"],
            "revision": r["revision"],
            "generated_at": r["generated_at"],
            "content_hash": r["content_hash"],
            "changes": r["changes"],
            "href": f"/v1/digests/daily/{r['digest_date'].isoformat()}/revisions/{r['revision']}",
        }
        for r in service.list_revisions(session=session, day=date, public=public_view(reader))
    ]


@router.get(
    "/daily/{date}/revisions/{revision}", response_class=Response, responses=_DOCUMENT_RESPONSES
)
def get_digest_revision(
    date: DayPath,
    revision: Annotated[int, Path(ge=1, le=1_000_000)],
    session: SessionDep,
    reader: Reader,
    asked: Asked,
) -> Response:
    """One revision of a day's digest, exactly as it was published (never changes)."""
    stored = service.get_revision(
        session=session, day=date, revision=revision, public=public_view(reader)
    )
    path = f"{DAILY}/{date.isoformat()}/revisions/{stored.revision}"
    return _represent(stored, asked, path=path, around=None)


@router.get(
    "/feed.atom",
    response_class=Response,
    responses={
        200: {
            "description": "An Atom feed (RFC 4287): one entry per digest revision.",
            "content": {"application/atom+xml": {"schema": {"type": "string"}}},
        },
        304: {"description": "Not modified"},
        401: {"description": "Digests are restricted and no key was given"},
        403: {"description": "Digests are restricted to monitors"},
    },
)
def get_digest_feed(
    session: SessionDep,
    reader: Reader,
    province: Province = None,
    if_none_match: IfNoneMatch = None,
    if_modified_since: IfModifiedSince = None,
) -> Response:
    """The latest digest revisions, newest first; with ``province``, the revisions that
    changed that governorate's figures, linking to its narrowed view. Without a monitor,
    verifier or admin key: the public view's revisions and summaries."""
    public = public_view(reader)
    pcode = _province(session, province)
    terms = load_terms(session)
    limit = get_settings().digest_feed_entries
    revisions = service.feed_revisions(session=session, limit=limit, province=pcode, public=public)
    base = links.base_url()
    query = f"?province={pcode}" if pcode else ""
    entries = []
    for stored in revisions:
        doc = service.view(stored, pcode)
        entries.append(
            render.FeedEntry(
                digest_date=stored.digest_date,
                revision=stored.revision,
                generated_at=stored.generated_at,
                summary=doc["summary"],
                changes=doc["changes"]["summary"] if doc["changes"] else None,
                href=f"{base}/v1/digests/daily/{stored.digest_date.isoformat()}"
                f"/revisions/{stored.revision}{query}",
            )
        )
    updated = revisions[0].generated_at if revisions else terms.start_at
    body = render.atom_feed(
        feed_id=f"tag:ceasefire-monitor,2016:{terms.theatre_id}/digests{query}",
        entry_id_prefix=f"tag:ceasefire-monitor,2016:{terms.theatre_id}/digests/"
        + (f"{pcode}/" if pcode else ""),
        title=f"Daily compliance digests ({terms.theatre_id})" + (f", {pcode}" if pcode else ""),
        self_href=f"{base}/v1/digests/feed.atom{query}",
        alternate_href=f"{base}/v1/digests/daily/latest{query}",
        updated=updated,
        entries=entries,
    )
    return _conditional(
        body,
        "application/atom+xml",
        last_modified=updated,
        cache_control=_cache(False, public),
        if_none_match=if_none_match,
        if_modified_since=if_modified_since,
    )
