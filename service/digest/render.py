"""The digest as CSV (one tidy row per figure), as Markdown, and the Atom feed of revisions.

Every rendering is a pure function of a stored document, so a revision fetched twice in
any format is byte-identical.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from service.digest.compute import FIGURES

# ---- CSV ----

CSV_HEADER = ("date", "revision", "province", "section", "key", "label", "metric", "value")


# Column headings of the totals tables, in the order of FIGURES.
FIGURE_HEADERS = [f.replace("_", " ") for f in FIGURES]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _headline_entries(doc: dict[str, Any]) -> Iterator[tuple[str, str, str, str, Any]]:
    """The day's status and totals (what a range of days gives for each day)."""
    for metric in ("no_violations", "days_since_last_verified_violation"):
        if metric in doc:
            yield "status", "", "", metric, doc[metric]
    for metric in (*FIGURES, "suppressed"):
        if metric in doc["totals"]:
            yield "totals", "", "", metric, doc["totals"][metric]


def _guarantor_entries(doc: dict[str, Any]) -> Iterator[tuple[str, str, str, str, Any]]:
    for g in doc["by_guarantor"]:
        key, label = g["guarantor"] or "", g["name"] or "unattributed"
        for metric in ("violations", "verified", "killed", "suppressed"):
            if metric in g:
                yield "by_guarantor", key, label, metric, g[metric]
        for metric, value in (g["compliance"] or {}).items():
            yield "by_guarantor", key, label, f"compliance_{metric}", value


def _entries(doc: dict[str, Any]) -> Iterator[tuple[str, str, str, str, Any]]:
    """(section, key, label, metric, value) for every figure of the document."""
    yield from _headline_entries(doc)
    for metric, value in doc["comparison"].items():
        yield "comparison", "", "", metric, value
    for p in doc["by_province"]:
        for metric, value in p.items():
            if metric not in ("pcode", "name_en"):
                yield "by_province", p["pcode"], p["name_en"], metric, value
    yield from _guarantor_entries(doc)
    for p in doc["by_party"]:
        key, label = p["party_id"] or "", p["name"] or "unknown perpetrator"
        for metric, value in p.items():
            if metric not in ("party_id", "name"):
                yield "by_party", key, label, metric, value
    for t in doc["by_type"]:
        for metric, value in t.items():
            if metric != "violation_type":
                yield "by_type", t["violation_type"], t["violation_type"], metric, value
    for b in doc.get("by_confidence") or []:
        for metric, value in b.items():
            if metric != "band":
                yield "by_confidence", b["band"], b["band"], metric, value
    for rank, h in enumerate(doc["hotspots"], start=1):
        yield "hotspots", h["pcode"], h["name_en"], "rank", rank
        for metric, value in h.items():
            if metric not in ("pcode", "name_en"):
                yield "hotspots", h["pcode"], h["name_en"], metric, value
    for metric, value in doc["running_total"].items():
        yield "running_total", "", "", metric, value
    # The public view: how small numbers were suppressed (absent from the full view).
    for metric, value in doc.get("disclosure", {}).items():
        yield "disclosure", "", "", metric, value


def _csv_rows(
    docs: Iterable[dict[str, Any]],
    entries: Callable[[dict[str, Any]], Iterable[tuple[str, str, str, str, Any]]],
    province: str,
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for doc in docs:
        for section, key, label, metric, value in entries(doc):
            writer.writerow(
                (doc["date"], doc["revision"], province, section, key, label, metric, _cell(value))
            )
    return out.getvalue().encode()


def to_csv(doc: dict[str, Any]) -> bytes:
    province = doc["province"]["pcode"] if doc["province"] else ""
    return _csv_rows([doc], _entries, province)


def range_to_csv(days: list[dict[str, Any]], province: str | None) -> bytes:
    """A range of days in the digest's CSV columns: each day's status, totals and guarantor
    lines (the rows of the day's own CSV in those sections)."""

    def headline(day: dict[str, Any]) -> Iterator[tuple[str, str, str, str, Any]]:
        yield from _headline_entries(day)
        yield from _guarantor_entries(day)

    return _csv_rows(days, headline, province or "")


# ---- Markdown ----


def _md(value: Any) -> str:
    if value is None:
        return "–"
    return str(value).replace("|", "\\|")


def _signed(value: float | None, suffix: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:+g}{suffix}"


def _confidence_section(doc: dict[str, Any]) -> list[str]:
    """Incidents by confidence band (absent from revisions built before the section)."""
    rows = doc.get("by_confidence")
    if rows is None:
        return []
    shown = [x for x in rows if x["incidents"] or x.get("suppressed")]
    return [
        "## By confidence",
        _table(
            ["confidence", "violations", "verified", "incidents"],
            [
                [x["band"], *(_shown(x, k) for k in ("violations", "verified", "incidents"))]
                for x in shown
            ],
        )
        if shown
        else "No incidents.",
    ]


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]], numeric_from: int = 1) -> str:
    header = list(header)
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_md(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _shown(row: dict[str, Any], key: str) -> Any:
    """A row's figure, or ``suppressed`` where the public view withheld it."""
    value = row[key]
    return "suppressed" if value is None and row.get("suppressed") else value


def to_markdown(doc: dict[str, Any], links: list[dict[str, str]] | None = None) -> bytes:
    t, c = doc["totals"], doc["comparison"]
    scope = (
        f" — {doc['province']['name_en']} ({doc['province']['pcode']})" if doc["province"] else ""
    )
    parts = [
        f"# Ceasefire compliance digest, {doc['date']}{scope} (revision {doc['revision']})",
        f"Day in {doc['timezone']}: {doc['window']['start']} to {doc['window']['end']}."
        f" Generated {doc['generated_at']}.",
        f"**{_md(doc['summary'])}**",
        "## Totals",
        _table(
            FIGURE_HEADERS,
            [[_shown(t, f) for f in FIGURES]],
            numeric_from=0,
        ),  # fmt: skip
        f"Against the mean of the previous {c['days']} days ({_md(c['mean'])}):"
        f" {_signed(c['change'])} ({_signed(c['change_pct'], '%')})."
        f" Days since the last verified violation: {_md(doc['days_since_last_verified_violation'])}.",
        "## By governorate",
        _table(
            [
                "governorate",
                "P-code",
                "violations",
                "verified",
                "change vs mean",
                "days since verified violation",
                "incidents",
                "excluded",
                "not party",
                "killed",
            ],
            [
                [
                    p["name_en"],
                    p["pcode"],
                    _shown(p, "violations"),
                    _shown(p, "verified"),
                    _signed(p["change"]),
                    _shown(p, "days_since_last_verified_violation"),
                    _shown(p, "incidents"),
                    _shown(p, "excluded"),
                    _shown(p, "not_party"),
                    _shown(p, "killed"),
                ]
                for p in doc["by_province"]
            ],
            numeric_from=2,
        ),  # fmt: skip
        "## By guarantor",
        _table(
            ["guarantor", "violations", "verified", "killed", "compliance", "violation-free days"],
            [
                [
                    g["name"] or "unattributed",
                    _shown(g, "violations"),
                    _shown(g, "verified"),
                    _shown(g, "killed"),
                    f"{g['compliance']['rate']:.0%}" if g["compliance"] else None,
                    f"{g['compliance']['violation_free_days']} of {g['compliance']['days']}"
                    if g["compliance"]
                    else None,
                ]
                for g in doc["by_guarantor"]
            ],
        ),  # fmt: skip
        "## By perpetrator",
        _table(
            ["party", "violations", "verified", "excluded", "not party", "incidents", "killed"],
            [
                [
                    p["name"] or "unknown perpetrator",
                    *(
                        _shown(p, k)
                        for k in (
                            "violations",
                            "verified",
                            "excluded",
                            "not_party",
                            "incidents",
                            "killed",
                        )
                    ),
                ]
                for p in doc["by_party"]
            ],
        )  # fmt: skip
        if doc["by_party"]
        else "No incidents.",
        "## By type",
        _table(
            ["type", "violations", "verified", "incidents"],
            [
                [
                    x["violation_type"],
                    *(_shown(x, k) for k in ("violations", "verified", "incidents")),
                ]
                for x in doc["by_type"]
                if x["incidents"] or x.get("suppressed")
            ],
        )
        if any(x["incidents"] or x.get("suppressed") for x in doc["by_type"])
        else "No incidents.",
        *_confidence_section(doc),
        "## Hotspots",
        _table(
            ["district", "P-code", "violations", "verified", "incidents", "killed"],
            [
                [
                    h["name_en"],
                    h["pcode"],
                    h["violations"],
                    h["verified"],
                    h["incidents"],
                    h["killed"],
                ]
                for h in doc["hotspots"]
            ],
            numeric_from=2,
        )  # fmt: skip
        if doc["hotspots"]
        else "No district had a violation.",
        f"## Running total since {doc['running_total']['since']}"
        f" ({doc['running_total']['days']} days)",
        _table(
            FIGURE_HEADERS,
            [[_shown(doc["running_total"], f) for f in FIGURES]],
            numeric_from=0,
        ),  # fmt: skip
    ]
    if doc["changes"]:
        parts += [
            f"## Changes since revision {doc['changes']['from_revision']}",
            _md(doc["changes"]["summary"]),
        ]
    parts.append(f"*Compliance: {doc['compliance_formula']}.*")
    disclosure = doc.get("disclosure")
    if disclosure:
        parts.append(
            f"*Public view: {disclosure['basis']}. Threshold: {disclosure['threshold']};"
            f" {disclosure['suppressed_cells']} figure rows suppressed,"
            f" {disclosure['hotspots_left_out']} hotspots left out.*"
        )
    if links:
        parts.append(markdown_links(links))
    return ("\n\n".join(parts) + "\n").encode()


# What a link is called in Markdown, by relation (and type, for alternates).
_LINK_LABELS = {
    "prev": "Previous day",
    "next": "Next day",
    "latest-version": "Latest revision",
    "version-history": "Revisions",
}
_FORMAT_LABELS = {
    "application/json": "JSON",
    "text/csv": "CSV",
    "text/markdown": "Markdown",
    "application/atom+xml": "Atom feed",
}


def markdown_links(links: list[dict[str, str]]) -> str:
    """The links of a document as one line of Markdown (self left out)."""
    shown = []
    for link in links:
        if link["rel"] == "self":
            continue
        label = _LINK_LABELS.get(link["rel"]) or _FORMAT_LABELS.get(
            link["type"].split(";")[0], link["type"]
        )
        shown.append(f"[{label}]({link['href']})")
    return " · ".join(shown)


def with_links(body: bytes, links: list[dict[str, str]]) -> bytes:
    """A JSON document's bytes with a last member ``links`` (the stored bytes kept as they
    are before it, so a revision's figures are served exactly as stored). A digest document
    is never empty."""
    return body.rstrip()[:-1] + b',"links":' + orjson.dumps(links) + b"}"


def range_to_markdown(
    days: list[dict[str, Any]], *, title: str, links: list[dict[str, str]]
) -> bytes:
    """A range of days as one table: each day's revision and totals, linked to the day."""
    rows = [
        [f"[{d['date']}]({d['href']})", d["revision"], *(_shown(d["totals"], f) for f in FIGURES)]
        for d in days
    ]
    parts = [
        f"# {title}",
        _table(["day", "revision", *FIGURE_HEADERS], rows) if rows else "No digest in this range.",
        markdown_links(links),
    ]
    return ("\n\n".join(p for p in parts if p) + "\n").encode()


# ---- Atom (RFC 4287) ----

ATOM_NS = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class FeedEntry:
    digest_date: dt.date
    revision: int
    generated_at: dt.datetime
    summary: str
    changes: str | None
    href: str  # absolute URL of the revision (JSON)


def _atom_time(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def atom_feed(
    *,
    feed_id: str,
    entry_id_prefix: str,
    title: str,
    self_href: str,
    alternate_href: str,
    updated: dt.datetime,
    entries: list[FeedEntry],
) -> bytes:
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        element.text = text
        return element

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", feed_id)
    sub(feed, "title", title)
    sub(feed, "updated", _atom_time(updated))
    author = sub(feed, "author")
    sub(author, "name", "ceasefire-monitor")
    sub(feed, "link", rel="self", type="application/atom+xml", href=self_href)
    sub(feed, "link", rel="alternate", type="application/json", href=alternate_href)
    for e in entries:
        entry = sub(feed, "entry")
        sub(entry, "id", f"{entry_id_prefix}{e.digest_date.isoformat()}/{e.revision}")
        sub(entry, "title", f"Daily digest {e.digest_date.isoformat()}, revision {e.revision}")
        sub(entry, "updated", _atom_time(e.generated_at))
        sub(entry, "published", _atom_time(e.generated_at))
        sub(entry, "link", rel="alternate", type="application/json", href=e.href)
        sub(entry, "link", rel="alternate", type="text/markdown", href=_with_format(e.href, "md"))
        sub(entry, "link", rel="alternate", type="text/csv", href=_with_format(e.href, "csv"))
        summary = e.summary if not e.changes else f"{e.summary} Changes: {e.changes}."
        sub(entry, "summary", summary, type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _with_format(href: str, fmt: str) -> str:
    return f"{href}{'&' if '?' in href else '?'}format={fmt}"
