"""The theatre file: reading it, and seeding the database from it idempotently."""

from __future__ import annotations

import datetime as dt
import html
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.errors import Invalid
from service.geography.loader import LoadResult, PropertyMap, load_boundaries, sync_area_names
from service.party.models import Coverage
from service.party.service import list_coalitions
from service.text import normalise_name


class TheatreFileError(Invalid):
    """The theatre file is unreadable or inconsistent."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TheatreTerms(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    timezone: str
    ceasefire_start: dt.datetime
    ceasefire_end: dt.datetime | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("ceasefire_start", "ceasefire_end")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("give the instant with its UTC offset")
        return value


class BoundaryLevel(_Strict):
    level: int = Field(ge=1)
    file: str
    code: str
    name_en: str
    name_ar: str | None = None
    parent: str | None = None
    alt_names: tuple[str, ...] = ()


class AreaNames(_Strict):
    extra: dict[str, tuple[str, ...]] = {}
    suffixes: dict[int, tuple[str, ...]] = {}


class GuarantorEntry(_Strict):
    id: str = Field(pattern=r"^[A-Z]{3}$")
    name: str


class Validity(_Strict):
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


class GuarantorLink(Validity):
    id: str


class CoverageSpan(Validity):
    coverage: Coverage


class AliasSpan(Validity):
    """An alias that names the party over a period only (a plain string: at any time)."""

    alias: str


class PartyEntry(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    side: str
    target_only: bool = False
    aliases: tuple[str | AliasSpan, ...] = ()
    guarantors: tuple[GuarantorLink, ...] = ()
    coverage: tuple[CoverageSpan, ...]

    def alias_spans(self) -> list[AliasSpan]:
        """Every name the party goes by, with its period: its name, its aliases, its id."""
        return [
            AliasSpan(alias=a) if isinstance(a, str) else a
            for a in (self.name, *self.aliases, self.id)
        ]


class CoalitionEntry(_Strict):
    """A name standing for several parties, in deciding order (see the coalition rule)."""

    name: str
    members: tuple[str, ...] = Field(min_length=2)


class Source(_Strict):
    """A data source the service serves from, with what its licence asks to be credited."""

    title: str
    attribution: str  # the credit the licence asks for, as plain text
    url: str | None = Field(default=None, pattern=r"^https?://")
    license: str
    license_url: str = Field(pattern=r"^https?://")


class TheatreFile(_Strict):
    theatre: TheatreTerms
    sources: tuple[Source, ...] = ()
    boundaries: tuple[BoundaryLevel, ...] = ()
    area_names: AreaNames = AreaNames()
    guarantors: tuple[GuarantorEntry, ...]
    parties: tuple[PartyEntry, ...]
    coalitions: tuple[CoalitionEntry, ...] = ()


def read_theatre_file(path: Path) -> TheatreFile:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TheatreFileError(f"theatre file {path} not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TheatreFileError(f"theatre file {path}: {exc}") from exc
    try:
        theatre = TheatreFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TheatreFileError(f"theatre file {path}: {where}: {first['msg']}") from exc
    _check_consistency(theatre, path)
    return theatre


def _overlap(a: Validity, b: Validity) -> bool:
    return (a.valid_from or dt.date.min) <= (b.valid_to or dt.date.max) and (
        b.valid_from or dt.date.min
    ) <= (a.valid_to or dt.date.max)


def _check_consistency(theatre: TheatreFile, path: Path) -> None:
    guarantor_ids = {g.id for g in theatre.guarantors}
    seen_aliases: dict[str, list[tuple[str, AliasSpan]]] = {}
    party_ids: set[str] = set()
    for party in theatre.parties:
        if party.id in party_ids:
            raise TheatreFileError(f"theatre file {path}: party {party.id} appears twice")
        party_ids.add(party.id)
        for link in party.guarantors:
            if link.id not in guarantor_ids:
                raise TheatreFileError(
                    f"theatre file {path}: party {party.id} names unknown guarantor {link.id}"
                )
        for span in (*party.guarantors, *party.coverage, *party.alias_spans()):
            if span.valid_from and span.valid_to and span.valid_from > span.valid_to:
                raise TheatreFileError(
                    f"theatre file {path}: party {party.id} has a validity ending before it starts"
                )
        for alias in party.alias_spans():
            held = seen_aliases.setdefault(normalise_name(alias.alias), [])
            for other, span in held:
                if other != party.id and _overlap(span, alias):
                    raise TheatreFileError(
                        f"theatre file {path}: alias {alias.alias!r} names both {other} and"
                        f" {party.id}"
                    )
            held.append((party.id, alias))
    for coalition in theatre.coalitions:
        unknown = [m for m in coalition.members if m not in party_ids]
        if unknown:
            raise TheatreFileError(
                f"theatre file {path}: coalition {coalition.name!r} names unknown parties"
                f" {', '.join(unknown)}"
            )
        if normalise_name(coalition.name) in seen_aliases:
            raise TheatreFileError(
                f"theatre file {path}: coalition {coalition.name!r} is also a party's alias"
            )


@dataclass
class SeedResult:
    theatre: str
    boundaries: list[LoadResult] = field(default_factory=list)
    rows_written: int = 0
    # Rows of the file's parties, aliases, guarantors, coverage and coalitions that the
    # database holds otherwise (curated at run time): left as the database has them.
    rows_kept: int = 0


def _insert_missing(
    session: Session,
    *,
    table: str,
    columns: dict[str, str],
    rows: list[dict],
    same: tuple[str, ...],
    dated: bool,
) -> tuple[int, int]:
    """Insert each of ``rows`` that ``table`` lacks, unless a row with the same ``same``
    columns (over an overlapping period, when ``dated``) holds something else: the
    database's curation wins. ``columns`` maps each column to the SQL reading it. Returns
    (rows inserted, rows kept as the database has them)."""
    names = list(columns)
    existing = [
        dict(r._mapping)
        for r in session.execute(
            text(f"SELECT {', '.join(f'{sql} AS {c}' for c, sql in columns.items())} FROM {table}")
        )
    ]
    inserted = kept = 0
    for row in rows:
        if any(all(e[c] == row[c] for c in names) for e in existing):
            continue
        clash = any(
            all(e[c] == row[c] for c in same)
            and (not dated or _overlap(Validity(**_span(e)), Validity(**_span(row))))
            for e in existing
        )
        if clash:
            kept += 1
            continue
        values = ", ".join(
            "CAST(:coverage AS coverage)" if c == "coverage" else f":{c}" for c in names
        )
        session.execute(text(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({values})"), row)
        existing.append(row)
        inserted += 1
    return inserted, kept


def _span(row: dict) -> dict:
    return {"valid_from": row["valid_from"], "valid_to": row["valid_to"]}


def _upsert_changed(session: Session, *, table: str, key: str, row: dict) -> int:
    """Insert or update one row, writing nothing when it is already as given."""
    cols = list(row)
    assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c != key)
    differs = " OR ".join(f"{table}.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in cols if c != key)
    result = session.execute(
        text(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"
            f" ON CONFLICT ({key}) DO UPDATE SET {assignments} WHERE {differs}"
        ),
        row,
    )
    return result.rowcount


def seed_parties(session: Session, theatre: TheatreFile) -> tuple[int, int]:
    """Add the file's guarantors, parties, aliases, guarantor and coverage spans and
    coalitions that the database lacks. After the first seed the database is the source of
    truth (curation at run time): nothing is removed or overwritten, and a file row the
    database holds otherwise is counted as kept. Returns (rows written, rows kept)."""
    written = kept = 0
    for g in theatre.guarantors:
        written += _upsert_changed(
            session, table="guarantors", key="id", row={"id": g.id, "name": g.name}
        )
    # One row per normalised form and period: the first spelling given is the one shown.
    first_spelling: dict[tuple, dict] = {}
    for p in theatre.parties:
        for span in p.alias_spans():
            key = (normalise_name(span.alias), span.valid_from, span.valid_to)
            first_spelling.setdefault(
                key,
                {
                    "alias_norm": key[0],
                    "alias": span.alias,
                    "party_id": p.id,
                    "valid_from": span.valid_from,
                    "valid_to": span.valid_to,
                },
            )
    dated = ("valid_from", "valid_to")
    for table, columns, rows, same, is_dated in (
        (
            "parties",
            ("id", "name", "side", "target_only"),
            [p.model_dump(include={"id", "name", "side", "target_only"}) for p in theatre.parties],
            ("id",),
            False,
        ),
        (
            "party_aliases",
            ("alias_norm", "alias", "party_id", *dated),
            list(first_spelling.values()),
            ("alias_norm",),
            True,
        ),
        (
            "party_guarantors",
            ("party_id", "guarantor_id", *dated),
            [
                {"party_id": p.id, "guarantor_id": g.id, **_span(g.model_dump())}
                for p in theatre.parties
                for g in p.guarantors
            ],
            ("party_id", "guarantor_id"),
            True,
        ),
        (
            "party_coverage",
            ("party_id", "coverage", *dated),
            [
                {"party_id": p.id, "coverage": c.coverage.value, **_span(c.model_dump())}
                for p in theatre.parties
                for c in p.coverage
            ],
            ("party_id",),
            True,
        ),
    ):
        sql = {c: "coverage::text" if c == "coverage" else c for c in columns}
        added, left = _insert_missing(
            session, table=table, columns=sql, rows=rows, same=same, dated=is_dated
        )
        written, kept = written + added, kept + left
    for coalition in theatre.coalitions:
        norm = normalise_name(coalition.name)
        added = session.execute(
            text(
                "INSERT INTO party_coalitions (name_norm, name) VALUES (:n, :name)"
                " ON CONFLICT DO NOTHING"
            ),
            {"n": norm, "name": coalition.name},
        ).rowcount
        if not added:
            members = session.execute(
                text(
                    "SELECT party_id FROM party_coalition_members WHERE coalition_norm = :n"
                    " ORDER BY position"
                ),
                {"n": norm},
            ).scalars()
            kept += tuple(members) != coalition.members
            continue
        session.execute(
            text(
                "INSERT INTO party_coalition_members (coalition_norm, party_id, position)"
                " VALUES (:n, :p, :i)"
            ),
            [{"n": norm, "p": m, "i": i} for i, m in enumerate(coalition.members)],
        )
        written += 1 + len(coalition.members)
    return written, kept


def seed_theatre_row(session: Session, theatre: TheatreFile) -> int:
    t = theatre.theatre
    written = _upsert_changed(
        session,
        table="theatres",
        key="id",
        row={
            "id": t.id,
            "name": t.name,
            "timezone": t.timezone,
            "ceasefire_start_at": t.ceasefire_start,
            "ceasefire_end_at": t.ceasefire_end,
            "sources": json.dumps([src.model_dump(exclude_none=True) for src in theatre.sources]),
        },
    )
    # The area of interest is the union of the top-level areas; recomputed only when stale.
    written += session.execute(
        text(
            """
            WITH aoi AS (SELECT ST_Multi(ST_Union(geom)) AS g FROM admin_areas WHERE level = 1)
            UPDATE theatres t SET aoi = aoi.g FROM aoi
            WHERE t.id = :id AND aoi.g IS NOT NULL
              AND ST_AsBinary(t.aoi) IS DISTINCT FROM ST_AsBinary(aoi.g)
            """
        ),
        {"id": t.id},
    ).rowcount
    return written


def seed_area_names(session: Session, theatre: TheatreFile) -> int:
    """Register the theatre's extra spellings and suffixed forms ("Idlib Governorate")."""
    written = 0
    levels = sorted({b.level for b in theatre.boundaries} | set(theatre.area_names.suffixes))
    for level in levels:
        rows = session.execute(
            text("SELECT pcode, name_en, name_ar, alt_names FROM admin_areas WHERE level = :level"),
            {"level": level},
        ).all()
        suffixes = theatre.area_names.suffixes.get(level, ())
        names: dict[str, set[str]] = {}
        for row in rows:
            base = {row.name_en, *theatre.area_names.extra.get(row.pcode, ()), *row.alt_names}
            names[row.pcode] = {f"{n} {s}" for n in base for s in suffixes} | set(
                theatre.area_names.extra.get(row.pcode, ())
            )
        unknown = set(theatre.area_names.extra) - {
            r.pcode for r in session.execute(text("SELECT pcode FROM admin_areas")).all()
        }
        if unknown:
            raise TheatreFileError(
                f"area_names.extra names unknown codes: {', '.join(sorted(unknown))}"
            )
        added, removed = sync_area_names(session, level=level, origin="theatre", names=names)
        written += added + removed
    return written


def seed(session: Session, *, theatre_file: Path, data_dir: Path) -> SeedResult:
    """Load the theatre's boundaries, parties, guarantors and terms. The caller commits."""
    theatre = read_theatre_file(theatre_file)
    result = SeedResult(theatre=theatre.theatre.id)
    for level in sorted(theatre.boundaries, key=lambda b: b.level):
        loaded = load_boundaries(
            session,
            path=data_dir / level.file,
            level=level.level,
            properties=PropertyMap(**level.model_dump(exclude={"level", "file"})),
        )
        result.boundaries.append(loaded)
        result.rows_written += (
            loaded.inserted + loaded.updated + loaded.names_added + loaded.names_removed
        )
    result.rows_written += seed_area_names(session, theatre)
    written, kept = seed_parties(session, theatre)
    result.rows_written += written
    result.rows_kept += kept
    result.rows_written += seed_theatre_row(session, theatre)
    return result


@dataclass(frozen=True)
class Attribution:
    """The theatre's sources as map clients credit them."""

    sources: tuple[Source, ...]

    @property
    def html(self) -> str | None:
        """One HTML string (TileJSON 3.0 ``attribution``): each source linked, with its
        licence linked; every text escaped."""
        if not self.sources:
            return None
        parts = []
        for src in self.sources:
            credit = html.escape(src.attribution)
            if src.url:
                credit = f'<a href="{html.escape(src.url)}">{credit}</a>'
            licence = f'<a href="{html.escape(src.license_url)}">{html.escape(src.license)}</a>'
            parts.append(f"{credit} ({licence})")
        return "; ".join(parts)

    def license_links(self) -> list[dict[str, str]]:
        """OGC links with ``rel="license"``, one per source."""
        return [
            {
                "href": src.license_url,
                "rel": "license",
                "type": "text/html",
                "title": f"{src.title}: {src.license}",
            }
            for src in self.sources
        ]


def attribution(*, session: Session) -> Attribution:
    """The sources of every seeded theatre, in file order, each once."""
    rows = session.execute(
        text(
            "SELECT e.source FROM theatres t,"
            " jsonb_array_elements(t.sources) WITH ORDINALITY AS e(source, n)"
            " ORDER BY t.id, e.n"
        )
    ).scalars()
    unique = dict.fromkeys(Source.model_validate(row) for row in rows)
    return Attribution(tuple(unique))


# ---- export: the theatre as the database holds it, in the theatre file's format ----


def _toml_key(key: object) -> str:
    key = str(key)
    return (
        key
        if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
        else (json.dumps(key, ensure_ascii=False))
    )


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # a JSON string is a TOML basic string
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Coverage):
        return _toml_value(value.value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date):  # dates, and date-times with their offset
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + pairs + " }" if pairs else "{}"
    raise TypeError(f"no TOML spelling for {value!r}")


def _toml_table(header: str, values: dict) -> list[str]:
    lines = [header]
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in values.items() if v is not None]
    return [*lines, ""]


def to_toml(theatre: TheatreFile) -> str:
    """The theatre file's text for ``theatre`` (``read_theatre_file`` reads it back)."""
    dump = theatre.model_dump(exclude_none=True)
    lines = [
        "# Exported by `ceasefire theatre export`: the theatre as the database holds it.",
        "# Dates are inclusive. A row without valid_from / valid_to is open-ended on that side.",
        "",
    ]
    lines += _toml_table("[theatre]", dump["theatre"])
    for source in dump["sources"]:
        lines += _toml_table("[[sources]]", source)
    for level in dump["boundaries"]:
        lines += _toml_table("[[boundaries]]", level)
    lines += _toml_table("[area_names.extra]", dump["area_names"]["extra"])
    lines += _toml_table("[area_names.suffixes]", dump["area_names"]["suffixes"])
    for guarantor in dump["guarantors"]:
        lines += _toml_table("[[guarantors]]", guarantor)
    for party in dump["parties"]:
        lines += _toml_table("[[parties]]", party)
    for coalition in dump["coalitions"]:
        lines += _toml_table("[[coalitions]]", coalition)
    return "\n".join(lines)


def export_theatre(session: Session, *, theatre_file: Path) -> str:
    """The current theatre in the theatre file's format: guarantors, parties (aliases over
    their periods, guarantors, coverage) and coalitions as the database holds them after any
    curation at run time; the terms, sources and boundaries as ``theatre_file`` gives them.
    Seeding the result into the same database writes nothing."""
    base = read_theatre_file(theatre_file)
    guarantors = [
        GuarantorEntry(id=r.id, name=r.name)
        for r in session.execute(text("SELECT id, name FROM guarantors ORDER BY id"))
    ]
    order = {p.id: i for i, p in enumerate(base.parties)}
    parties = sorted(
        session.execute(text("SELECT id, name, side, target_only FROM parties")).all(),
        key=lambda r: (order.get(r.id, len(order)), r.id),
    )

    def spans(sql: str) -> dict[str, list]:
        out: dict[str, list] = {}
        for row in session.execute(text(sql)):
            out.setdefault(row[0], []).append(row)
        return out

    aliases = spans(
        "SELECT party_id, alias, valid_from, valid_to FROM party_aliases"
        " ORDER BY party_id, valid_from NULLS FIRST, id"
    )
    links = spans(
        "SELECT party_id, guarantor_id, valid_from, valid_to FROM party_guarantors"
        " ORDER BY party_id, guarantor_id, valid_from NULLS FIRST"
    )
    coverage = spans(
        "SELECT party_id, coverage::text, valid_from, valid_to FROM party_coverage"
        " ORDER BY party_id, valid_from NULLS FIRST"
    )
    entries = []
    for p in parties:
        implied = {(p.name, None, None), (p.id, None, None)}  # the seed adds these itself
        entries.append(
            PartyEntry(
                id=p.id,
                name=p.name,
                side=p.side,
                target_only=p.target_only,
                aliases=tuple(
                    a.alias
                    if a.valid_from is None and a.valid_to is None
                    else AliasSpan(alias=a.alias, valid_from=a.valid_from, valid_to=a.valid_to)
                    for a in aliases.get(p.id, [])
                    if (a.alias, a.valid_from, a.valid_to) not in implied
                ),
                guarantors=tuple(
                    GuarantorLink(id=g[1], valid_from=g[2], valid_to=g[3])
                    for g in links.get(p.id, [])
                ),
                coverage=tuple(
                    CoverageSpan(coverage=c[1], valid_from=c[2], valid_to=c[3])
                    for c in coverage.get(p.id, [])
                ),
            )
        )
    coalitions = [
        CoalitionEntry(name=c["name"], members=tuple(c["members"]))
        for c in list_coalitions(session=session)
    ]
    exported = base.model_copy(
        update={
            "guarantors": tuple(guarantors),
            "parties": tuple(entries),
            "coalitions": tuple(coalitions),
        }
    )
    return to_toml(exported)
