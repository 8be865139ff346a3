"""Small numbers stay private: the public view of a digest.

The anchor is the practice of OCHA's Centre for Humanitarian Data (HDX): "The Centre for
Humanitarian Data Guidance Note Series, Data Responsibility in Humanitarian Action - Note #1:
Statistical Disclosure Control" (OCHA, August 2019), and the OCHA Data Responsibility
Guidelines it belongs to. Data shared publicly is aggregated so that no record can be
singled out: a figure that describes fewer than *k* units (the threshold rule behind
k-anonymity; HDX reviews use sdcMicro and commonly k = 3) is withheld, and withheld figures
must not be recoverable from the figures published beside them.

How the digest applies it (``public_min_count`` is *k*, default 3):

1. **The public counts what the public map shows.** The public document is computed from
   verified incidents only (``compute_days(public=True)``), stored beside the full one. No
   unverified or disputed incident enters any public figure, hotspot, party, type or
   guarantor line, so no difference between days, revisions, governorates or formats can
   reveal one (verified incidents are shown one by one on the public map anyway).
2. **Primary suppression.** Every *cell* (a row of a table: the day's totals, a governorate,
   a perpetrator party, a violation type, a guarantor line, a hotspot district, the running
   total) counting 1 to k-1 incidents is suppressed: its figures become ``null`` and it
   carries ``"suppressed": true``. A zero is published (no incident is nobody's).
3. **Secondary suppression.** In a table whose rows add up to a published total (by
   governorate, by party, by type; by guarantor, whose lines overlap only when an incident
   has several guarantors), the suppressed rows together must count at least k incidents,
   else ``total - published rows`` would give a suppressed row back: the smallest non-zero
   published rows are suppressed too until they do (or every row is). A governorate
   suppressed in the theatre's table is suppressed whole in its narrowed view, which would
   otherwise publish its totals.
4. Hotspots (a top list, not a partition) below k are left out of the list, and counted in
   the document's ``disclosure`` note; summaries and comparisons that would restate a
   suppressed figure are replaced or nulled.

Every public document carries ``disclosure``: the view, the threshold and how many cells
were suppressed, so a reader never mistakes a withheld figure for a zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from service.digest.compute import FIGURES

PUBLIC_BASIS = (
    "verified incidents only; figures about fewer than {k} incidents are suppressed"
    " (null, with suppressed: true), and enough further figures to keep them from being"
    " worked out from the totals"
)

_PARTY_FIGURES = ("incidents", "violations", "verified", "excluded", "not_party", "killed")
_TYPE_FIGURES = ("incidents", "violations", "verified")
_GUARANTOR_FIGURES = ("violations", "verified", "killed")
_PROVINCE_EXTRA = ("trailing_mean", "change", "change_pct", "days_since_last_verified_violation")


def _small(n: int | None, k: int) -> bool:
    return n is not None and 0 < n < k


def suppressed_rows(counts: list[int], k: int) -> set[int]:
    """Indices of the rows of an additive table to suppress: those counting 1..k-1, then
    (secondary) the smallest non-zero others until the suppressed rows count k or more."""
    chosen = {i for i, n in enumerate(counts) if _small(n, k)}
    if not chosen:
        return chosen
    total = sum(counts[i] for i in chosen)
    others = sorted((n, i) for i, n in enumerate(counts) if i not in chosen and n > 0)
    for n, i in others:
        if total >= k:
            break
        chosen.add(i)
        total += n
    return chosen


def _blank(row: dict[str, Any], keys: Iterable[str]) -> None:
    for key in keys:
        if key in row:
            row[key] = None
    row["suppressed"] = True


def _mark(rows: list[dict[str, Any]], count: str, figures: Iterable[str], k: int) -> int:
    figures = tuple(figures)
    chosen = suppressed_rows([int(r[count]) for r in rows], k)
    for i, row in enumerate(rows):
        if i in chosen:
            _blank(row, figures)
        else:
            row["suppressed"] = False
    return len(chosen)


def province_suppression(by_province: list[dict[str, Any]], k: int) -> set[str]:
    """The governorates whose row the theatre-wide public view suppresses."""
    chosen = suppressed_rows([int(p["incidents"]) for p in by_province], k)
    return {by_province[i]["pcode"] for i in chosen}


def _withheld_summary(doc: dict[str, Any], k: int) -> str:
    where = f" in {doc['province']['name_en']}" if doc.get("province") else ""
    return (
        f"Figures{where} on {doc['date']} ({doc['timezone']}) are withheld: they concern"
        f" fewer than {k} verified incidents, or would let such figures be worked out."
    )


def public_view(
    document: dict[str, Any], *, k: int, suppressed_provinces: set[str] | None = None
) -> dict[str, Any]:
    """The public document with small cells suppressed (see the module's docstring).

    ``document`` is a stored public document (whole, or narrowed to a governorate by
    ``service.view``); ``suppressed_provinces`` are the governorates the whole document's
    table suppresses (computed from it when ``document`` is the whole one). Pure: the same
    document and threshold always give the same bytes.
    """
    # A copy, never the caller's document: a JSON document's copy by orjson is exact and
    # about ten times faster than copy.deepcopy (which dominated a range of 366 days).
    doc = orjson.loads(orjson.dumps(document))
    narrowed = doc.get("province") is not None
    if suppressed_provinces is None:
        suppressed_provinces = province_suppression(doc["by_province"], k)
    cells = 0

    totals = doc["totals"]
    withheld = _small(totals["incidents"], k) or (
        narrowed and doc["province"]["pcode"] in suppressed_provinces
    )
    if withheld:
        # Everything that day (or in that governorate) is withheld: each row is at most
        # the totals, and published rows would add up to them.
        doc["totals"] = dict.fromkeys(totals)
        doc["totals"]["suppressed"] = True
        doc["no_violations"] = None
        doc["summary"] = _withheld_summary(doc, k)
        doc["days_since_last_verified_violation"] = None
        doc["comparison"] = {**doc["comparison"], "change": None, "change_pct": None}
        cells += 1
    else:
        doc["totals"]["suppressed"] = False

    # by governorate: the theatre-wide decision, also in a narrowed view.
    for p in doc["by_province"]:
        if p["pcode"] in suppressed_provinces or withheld:
            _blank(p, (*FIGURES, *_PROVINCE_EXTRA))
            cells += 1
        else:
            p["suppressed"] = False

    if withheld:
        for p in doc["by_party"]:
            _blank(p, _PARTY_FIGURES)
        for t in doc["by_type"]:
            if t["incidents"]:
                _blank(t, _TYPE_FIGURES)
            else:
                t["suppressed"] = False
        for g in doc["by_guarantor"]:
            if g["violations"]:
                _blank(g, _GUARANTOR_FIGURES)
            else:
                g["suppressed"] = False
        for b in doc.get("by_confidence") or []:
            if b["incidents"]:
                _blank(b, _TYPE_FIGURES)
            else:
                b["suppressed"] = False
        cells += len(doc["by_party"]) + sum(1 for t in doc["by_type"] if t["suppressed"])
        cells += sum(1 for b in doc.get("by_confidence") or [] if b["suppressed"])
        cells += sum(1 for g in doc["by_guarantor"] if g["suppressed"])
    else:
        cells += _mark(doc["by_party"], "incidents", _PARTY_FIGURES, k)
        cells += _mark(doc["by_type"], "incidents", _TYPE_FIGURES, k)
        if doc.get("by_confidence") is not None:
            cells += _mark(doc["by_confidence"], "incidents", _TYPE_FIGURES, k)
        cells += _mark(doc["by_guarantor"], "violations", _GUARANTOR_FIGURES, k)

    # The compliance window's counts (the rate counts days, not incidents).
    for g in doc["by_guarantor"]:
        compliance = g.get("compliance")
        if compliance is not None and _small(compliance["violations"], k):
            compliance["violations"] = compliance["verified_violations"] = None
            cells += 1

    hotspots = [h for h in doc["hotspots"] if not withheld and not _small(h["incidents"], k)]
    left_out = len(doc["hotspots"]) - len(hotspots)
    for h in hotspots:
        h["suppressed"] = False
    doc["hotspots"] = hotspots

    running = doc["running_total"]
    if _small(running["incidents"], k):
        _blank(running, FIGURES)
        cells += 1
    else:
        running["suppressed"] = False

    comparison = doc["comparison"]
    if comparison["mean"] is not None and _small(round(comparison["mean"] * comparison["days"]), k):
        doc["comparison"] = {**comparison, "mean": None, "change": None, "change_pct": None}

    doc["disclosure"] = {
        "view": "public",
        "threshold": k,
        "basis": PUBLIC_BASIS.format(k=k),
        "suppressed_cells": cells,
        "hotspots_left_out": left_out,
    }
    return doc


def public_changes(changes: dict[str, Any], *, k: int, names: dict[str, str]) -> dict[str, Any]:
    """What changed between two public revisions, without a total that was or is small
    (a change from 1 to 2 would restate two suppressed figures)."""
    totals = {
        figure: values
        for figure, values in changes["totals"].items()
        if not _small(values["before"], k) and not _small(values["after"], k)
    }
    parts = [f"{f} {v['before']} -> {v['after']}" for f, v in totals.items()]
    if changes["provinces"]:
        parts.append(
            "changed in " + ", ".join(f"{names.get(p, p)} ({p})" for p in changes["provinces"])
        )
    elif changes["sections"]:
        parts.append("changed: " + ", ".join(changes["sections"]))
    withheld = len(changes["totals"]) - len(totals)
    if withheld:
        parts.append(f"{withheld} changed total{'s' if withheld != 1 else ''} below {k} withheld")
    kept = {key: value for key, value in changes.items() if key != "reason"}  # full view only
    return {**kept, "summary": "; ".join(parts) or "figures changed", "totals": totals}
