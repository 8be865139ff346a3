"""A digest document's links (served in its ``links`` and ``Link`` header, and sent with each
webhook delivery): the same document in every format, the feed, the day's revisions and its
neighbours, as absolute URLs under the public base URL."""

from __future__ import annotations

from service import links
from service.digest.service import Neighbours, StoredRevision

MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}

DAILY = "/v1/digests/daily"
FEED = "/v1/digests/feed.atom"
ATOM = "application/atom+xml"
# The media type a link names, by format (without parameters).
LINK_TYPES = {fmt: media.split(";")[0] for fmt, media in MEDIA_TYPES.items()}


def href(path: str, fmt: str, province: str | None, **query: str) -> str:
    """The absolute URL of ``path`` in ``fmt`` (JSON needs no ``format``), narrowed to
    ``province``."""
    pairs = list(query.items())
    if province:
        pairs.append(("province", province))
    if fmt != "json":
        pairs.append(("format", fmt))
    return links.absolute(path, pairs)


def link(rel: str, href: str, media_type: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": media_type}


def formats(path: str, fmt: str, province: str | None, **query: str) -> list[dict[str, str]]:
    """``self`` in the format served, ``alternate`` in each other format."""
    return [
        link("self" if other == fmt else "alternate", href(path, other, province, **query), t)
        for other, t in LINK_TYPES.items()
    ]


def document_links(
    stored: StoredRevision,
    fmt: str,
    province: str | None,
    *,
    path: str,
    around: Neighbours | None,
) -> list[dict[str, str]]:
    """A digest document's links: itself in every format, the Atom feed, the day's
    revisions; on a revision (``around`` None) the day's latest, which changes, in place of
    prev and next, which may change: a revision's links never change."""
    day = f"{DAILY}/{stored.digest_date.isoformat()}"
    out = formats(path, fmt, province)
    out.append(link("alternate", href(FEED, "json", province), ATOM))
    out.append(link("version-history", href(f"{day}/revisions", "json", None), LINK_TYPES["json"]))
    if around is None:
        out.append(link("latest-version", href(day, fmt, province), LINK_TYPES[fmt]))
        return out
    for rel, other in (("prev", around.prev), ("next", around.next)):
        if other is not None:
            url = href(f"{DAILY}/{other.isoformat()}", fmt, province)
            out.append(link(rel, url, LINK_TYPES[fmt]))
    return out
