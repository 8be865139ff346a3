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


class PartyEntry(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    side: str
    target_only: bool = False
    aliases: tuple[str, ...] = ()
    guarantors: tuple[GuarantorLink, ...] = ()
    coverage: tuple[CoverageSpan, ...]


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


def _check_consistency(theatre: TheatreFile, path: Path) -> None:
    guarantor_ids = {g.id for g in theatre.guarantors}
    seen_aliases: dict[str, str] = {}
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
        for span in (*party.guarantors, *party.coverage):
            if span.valid_from and span.valid_to and span.valid_from > span.valid_to:
                raise TheatreFileError(
                    f"theatre file {path}: party {party.id} has a validity ending before it starts"
                )
        for alias in (party.id, party.name, *party.aliases):
            key = normalise_name(alias)
            other = seen_aliases.setdefault(key, party.id)
            if other != party.id:
                raise TheatreFileError(
                    f"theatre file {path}: alias {alias!r} names both {other} and {party.id}"
                )


@dataclass
class SeedResult:
    theatre: str
    boundaries: list[LoadResult] = field(default_factory=list)
    rows_written: int = 0


def _sync_rows(
    session: Session, *, table: str, key_cols: tuple[str, ...], wanted: set[tuple]
) -> int:
    """Make ``table`` hold exactly ``wanted``; writes only the diff."""
    cols = ", ".join(key_cols)
    existing = {tuple(r) for r in session.execute(text(f"SELECT {cols} FROM {table}"))}
    placeholders = ", ".join(f":{c}" for c in key_cols)
    match = " AND ".join(f"{c} IS NOT DISTINCT FROM :{c}" for c in key_cols)
    removed = existing - wanted
    added = wanted - existing
    for row in sorted(removed, key=repr):
        session.execute(
            text(f"DELETE FROM {table} WHERE {match}"), dict(zip(key_cols, row, strict=True))
        )
    for row in sorted(added, key=repr):
        session.execute(
            text(f"INSERT INTO {table} ({cols}) VALUES ({placeholders})"),
            dict(zip(key_cols, row, strict=True)),
        )
    return len(removed) + len(added)


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


def seed_parties(session: Session, theatre: TheatreFile) -> int:
    written = 0
    for g in theatre.guarantors:
        written += _upsert_changed(
            session, table="guarantors", key="id", row={"id": g.id, "name": g.name}
        )
    for p in theatre.parties:
        written += _upsert_changed(
            session,
            table="parties",
            key="id",
            row={"id": p.id, "name": p.name, "side": p.side, "target_only": p.target_only},
        )
    # One row per normalised form: the first spelling given is the one shown.
    first_spelling: dict[str, tuple[str, str]] = {}
    for p in theatre.parties:
        for alias in (p.name, *p.aliases, p.id):
            first_spelling.setdefault(normalise_name(alias), (alias, p.id))
    aliases = {(norm, alias, party_id) for norm, (alias, party_id) in first_spelling.items()}
    guarantors = {
        (p.id, g.id, g.valid_from, g.valid_to) for p in theatre.parties for g in p.guarantors
    }
    coverage = {
        (p.id, c.coverage.value, c.valid_from, c.valid_to)
        for p in theatre.parties
        for c in p.coverage
    }
    for table, key_cols, wanted in (
        ("party_aliases", ("alias_norm", "alias", "party_id"), aliases),
        ("party_guarantors", ("party_id", "guarantor_id", "valid_from", "valid_to"), guarantors),
        ("party_coverage", ("party_id", "coverage", "valid_from", "valid_to"), coverage),
    ):
        written += _sync_rows(session, table=table, key_cols=key_cols, wanted=wanted)
    return written


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
    result.rows_written += seed_parties(session, theatre)
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
