"""A deterministic benchmark data set: N incidents (default 1,000,000) shaped like real events.

    .venv/bin/python -m bench.dataset --database-url URL --incidents N [--seed S] [--replace]

The database must be migrated and seeded (``ceasefire migrate && ceasefire seed``). The
same seed and N give the same rows, ids included, in any database with the same boundaries
and theatre.

How the rows follow the real UCDP GED events (``../shared/data/events``):

- Each source event is read and mapped by the importer's own mapping
  (``service.importer.ucdp.to_report``: type, actors, casualties, place, precision) and
  located by the service's own ``locate_many``; refused rows are left out, as an import would.
- Days run from 2016-01-01 to 2019-12-31. A day's share of incidents is the number of real
  events on the same calendar day (month and day, averaged over the years the extract covers),
  so the seasonal pattern and the daily peaks of the real data repeat every year. Each incident
  copies a real event of that calendar day, at a uniformly drawn time of the local day.
- Positions are the event's point moved by up to ``JITTER_KM`` in a uniformly drawn
  direction; a moved point that leaves every district falls back to the event's own point
  (and its location as the service found it), so everything stays inside Syria. Events the
  GED places only in a province stay province-only (no point), as imported.
- Attribution and classification use the service's ``PartyDirectory`` and ``classify`` on
  the incident's own date, so the ceasefire status follows the theatre's terms (before
  2016-12-30 everything is ``outside_period``).
- Statuses: 55% verified, 30% unverified, 10% disputed, 5% rejected. One incident in ten
  has a second, later report (the incident's casualties are the larger figure, as
  ``service.incident.service.refresh`` computes them).

Loading is the bulk equivalent of ``submit``: rows go by COPY into a staging table, one
set-based statement per chunk locates every moved point in the subdivided
``admin_area_pieces`` (district first, its province being the district's parent, as
``locate_many`` does), and two INSERT ... SELECT statements write incidents and reports. No
report revisions or per-report audit events are written (one audit event marks the load):
this is load for benchmarks, not evidence. If your branch keeps tables derived from
incidents (rollups), rebuild them after loading.

The reports belong to a reporter key named after the seed and size. Running the command again
with the same seed and size finds the data set complete and does nothing; ``--replace`` (or
another seed or size) deletes the previous data set's reports and incidents first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import math
import random
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from service.audit.service import CONSOLE, record
from service.auth.service import create_key
from service.config import get_settings, sqlalchemy_url
from service.geography.service import AreaNames, Location, locate_many
from service.importer.service import read_ucdp
from service.importer.ucdp import Mapped
from service.incident.classify import classify
from service.party.service import PartyDirectory
from service.theatre.terms import Terms, load_terms

FIRST_DAY = dt.date(2016, 1, 1)
LAST_DAY = dt.date(2019, 12, 31)
JITTER_KM = 3.0
KM_PER_DEGREE = 111.32
STATUSES = (("verified", 0.55), ("unverified", 0.30), ("disputed", 0.10), ("rejected", 0.05))
SECOND_REPORT_SHARE = 0.10
KEY_PREFIX = "bench dataset"
LOADED_ACTION = "bench.dataset_loaded"
DEFAULT_EVENTS = "events/ucdp_ged_syria_2016-01_2017-01.csv"


@dataclass(frozen=True)
class SourceEvent:
    index: int
    ucdp_id: str
    day: dt.date
    lon: float | None
    lat: float | None
    province: str
    district: str | None
    location_match: str
    location_distance_km: float | None
    violation_type: str
    geo_precision: str | None
    perpetrator: str | None
    target: str | None
    killed: int
    civilians_killed: int


def key_name(seed: int, incidents: int) -> str:
    return f"{KEY_PREFIX} (seed {seed}, {incidents} incidents)"


def source_events(session: Session, path: Path, terms: Terms) -> list[tuple[SourceEvent, Mapped]]:
    """The real events as the importer maps them and the service locates them."""
    mapped = [m for m in read_ucdp(path, timezone=terms.timezone) if isinstance(m, Mapped)]
    with_point = [m for m in mapped if m.report.location is not None]
    located = dict(
        zip(
            (m.ucdp_id for m in with_point),
            locate_many(
                session=session,
                points=[tuple(m.report.location.coordinates) for m in with_point],  # type: ignore[union-attr,misc]
            ),
            strict=True,
        )
    )
    provinces = AreaNames.load(session)
    events: list[tuple[SourceEvent, Mapped]] = []
    for m in mapped:
        r = m.report
        casualties = r.casualties
        common = {
            "ucdp_id": m.ucdp_id,
            "day": terms.local_date(r.occurred_at),
            "violation_type": r.violation_type.value,
            "geo_precision": r.geo_precision,
            "perpetrator": r.perpetrator,
            "target": r.target,
            "killed": casualties.killed if casualties else 0,
            "civilians_killed": casualties.civilians_killed if casualties else 0,
        }
        if r.location is not None:
            where = located[m.ucdp_id]
            if not isinstance(where, Location):
                continue  # refused by the service: not imported, not sampled
            lon, lat = r.location.coordinates
            event = SourceEvent(
                index=len(events),
                lon=lon,
                lat=lat,
                province=where.province.pcode,
                district=where.district.pcode if where.district else None,
                location_match=where.match,
                location_distance_km=where.distance_km if where.match == "nearest" else None,
                **common,
            )
        else:
            area = provinces.resolve(r.province or "")
            if area is None:
                continue
            event = SourceEvent(
                index=len(events),
                lon=None,
                lat=None,
                province=area.pcode,
                district=None,
                location_match="province_only",
                location_distance_km=None,
                **common,
            )
        events.append((event, m))
    return events


def day_weights(events: list[SourceEvent]) -> tuple[list[dt.date], list[float], dict]:
    """Every day of the span, its expected share, and the events of its calendar day."""
    pool: dict[tuple[int, int], list[SourceEvent]] = defaultdict(list)
    for e in events:
        pool[(e.day.month, e.day.day)].append(e)
    first, last = min(e.day for e in events), max(e.day for e in events)
    covered: dict[tuple[int, int], int] = defaultdict(int)
    day = first
    while day <= last:
        covered[(day.month, day.day)] += 1
        day += dt.timedelta(days=1)
    days, cumulative, total = [], [], 0.0
    day = FIRST_DAY
    while day <= LAST_DAY:
        key = (day.month, day.day)
        total += len(pool.get(key, ())) / covered[key] if covered.get(key) else 0.0
        days.append(day)
        cumulative.append(total)
        day += dt.timedelta(days=1)
    return days, cumulative, pool


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _status(rng: random.Random) -> str:
    u, acc = rng.random(), 0.0
    for status, share in STATUSES:
        acc += share
        if u < acc:
            return status
    return STATUSES[-1][0]


def _copy_value(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "{" + ",".join(value) + "}"
    return str(value)


class Generator:
    """Draws incidents in a fixed order from one seeded random stream."""

    def __init__(
        self,
        *,
        seed: int,
        events: list[SourceEvent],
        directory: PartyDirectory,
        terms: Terms,
    ) -> None:
        # Days come from their own stream, one draw per incident, so the rows do not depend
        # on the chunk size.
        self.day_rng = random.Random(seed)  # noqa: S311 - reproducible, not secret
        self.rng = random.Random(seed + 1)  # noqa: S311
        self.days, self.cumulative, self.pool = day_weights(events)
        self.directory = directory
        self.terms = terms
        self._verdicts: dict[tuple, tuple] = {}

    def _verdict(self, event: SourceEvent, at: dt.datetime) -> tuple:
        on = self.terms.local_date(at)
        key = (event.perpetrator, event.target, on, self.terms.in_force(at))
        verdict = self._verdicts.get(key)
        if verdict is None:
            d = self.directory
            perpetrator = d.resolve_actor(event.perpetrator, on) if event.perpetrator else None
            if perpetrator is not None and perpetrator.target_only:
                perpetrator = None
            target = d.resolve_actor(event.target, on) if event.target else None
            c = classify(occurred_at=at, perpetrator=perpetrator, target=target, terms=self.terms)
            verdict = (
                perpetrator.id if perpetrator else None,
                target.id if target else None,
                list(c.responsible_guarantors),
                c.ceasefire_status.value,
            )
            self._verdicts[key] = verdict
        return verdict

    def rows(self, count: int) -> list[list[object]]:
        rng, tz = self.rng, self.terms.timezone
        picked = self.day_rng.choices(range(len(self.days)), cum_weights=self.cumulative, k=count)
        rows = []
        for day_index in picked:
            day = self.days[day_index]
            event = rng.choice(self.pool[(day.month, day.day)])
            midnight = dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)
            next_midnight = dt.datetime.combine(
                day + dt.timedelta(days=1), dt.time(0), tzinfo=tz
            ).astimezone(dt.UTC)
            seconds = rng.randrange(int((next_midnight - midnight).total_seconds()))
            occurred_at = midnight + dt.timedelta(seconds=seconds)
            lon = lat = None
            if event.lon is not None and event.lat is not None:
                distance = JITTER_KM * math.sqrt(rng.random())
                angle = rng.random() * 2 * math.pi
                lat = event.lat + distance * math.sin(angle) / KM_PER_DEGREE
                lon = event.lon + distance * math.cos(angle) / (
                    KM_PER_DEGREE * math.cos(math.radians(event.lat))
                )
                lon, lat = round(lon, 6), round(lat, 6)
            created_at = occurred_at + dt.timedelta(hours=min(rng.expovariate(1 / 6), 24 * 30))
            status = _status(rng)
            second = rng.random() < SECOND_REPORT_SHARE
            killed_second = event.killed + rng.randint(0, 2) if second else None
            created_second = (
                created_at + dt.timedelta(hours=rng.expovariate(1 / 12)) if second else None
            )
            last_report = created_second or created_at
            reviewed_at = (
                last_report + dt.timedelta(hours=rng.expovariate(1 / 24))
                if status != "unverified"
                else None
            )
            incident_id, report_id, client_id = _uuid(rng), _uuid(rng), _uuid(rng)
            report2_id, client2_id = (_uuid(rng), _uuid(rng)) if second else (None, None)
            perpetrator_id, target_id, guarantors, ceasefire_status = self._verdict(
                event, occurred_at
            )
            rows.append(
                [
                    incident_id,
                    report_id,
                    client_id,
                    report2_id,
                    client2_id,
                    event.index,
                    lon,
                    lat,
                    occurred_at,
                    created_at,
                    created_second,
                    reviewed_at,
                    status,
                    killed_second,
                    perpetrator_id,
                    target_id,
                    guarantors,
                    ceasefire_status,
                ]
            )
        return rows


_STAGE_COLUMNS = (
    "incident_id uuid, report_id uuid, client_id uuid, report2_id uuid, client2_id uuid,"
    " event int, lon float8, lat float8, occurred_at timestamptz, created_at timestamptz,"
    " created2_at timestamptz, reviewed_at timestamptz, status text, killed2 int,"
    " perpetrator_party_id text, target_party_id text, guarantors varchar(3)[],"
    " ceasefire_status text"
)

# The moved point's district, tested against the subdivided pieces; a point that left every
# district takes its event's point and location instead.
_LOCATE = """
    CREATE TEMP TABLE bench_located ON COMMIT DROP AS
    SELECT s.*, e.*,
           CASE WHEN d.pcode IS NOT NULL THEN ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)
                WHEN e.e_lon IS NOT NULL THEN ST_SetSRID(ST_MakePoint(e.e_lon, e.e_lat), 4326)
           END AS geom,
           coalesce(a.parent_pcode, e.e_province) AS province_pcode,
           coalesce(d.pcode, e.e_district) AS district_pcode,
           CASE WHEN d.pcode IS NOT NULL THEN 'inside' ELSE e.e_match END AS location_match,
           CASE WHEN d.pcode IS NOT NULL THEN NULL ELSE e.e_distance_km END
               AS location_distance_km
    FROM bench_stage s
    JOIN bench_events e ON e.e_index = s.event
    LEFT JOIN LATERAL (
        SELECT p.pcode FROM admin_area_pieces p
        WHERE s.lon IS NOT NULL AND p.level = 2
          AND ST_Intersects(p.geom, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326))
        ORDER BY p.pcode LIMIT 1
    ) d ON true
    LEFT JOIN admin_areas a ON a.pcode = d.pcode
"""

_FACTS = (
    "occurred_at, time_precision, geom, geo_precision, place_name, province_pcode,"
    " district_pcode, location_match, location_distance_km, violation_type, perpetrator_raw,"
    " perpetrator_party_id, target_raw, target_party_id, responsible_guarantors,"
    " ceasefire_status"
)
_L_FACTS = (
    "l.occurred_at, 'exact', l.geom, l.e_geo_precision, l.e_place_name, l.province_pcode,"
    " l.district_pcode, l.location_match, l.location_distance_km, l.e_violation_type,"
    " l.e_perpetrator, l.perpetrator_party_id, l.e_target, l.target_party_id, l.guarantors,"
    " l.ceasefire_status"
)

_INSERT_INCIDENTS = f"""
    INSERT INTO incidents (id, status, report_count, review_note, reviewed_at, created_at,
                           updated_at, killed, injured, civilians_killed, {_FACTS})
    SELECT l.incident_id, l.status, CASE WHEN l.report2_id IS NULL THEN 1 ELSE 2 END,
           CASE WHEN l.reviewed_at IS NOT NULL THEN 'bench: ' || l.status END, l.reviewed_at,
           l.created_at, coalesce(l.reviewed_at, l.created2_at, l.created_at),
           greatest(l.e_killed, coalesce(l.killed2, 0)), 0, l.e_civilians_killed, {_L_FACTS}
    FROM bench_located l
"""

_INSERT_REPORTS = f"""
    INSERT INTO reports (id, reporter_key_id, client_report_id, incident_id, request_hash,
                         revision, description, sources, created_at, updated_at,
                         killed, injured, civilians_killed, {_FACTS})
    SELECT r.id, CAST(:key AS uuid), r.client_id, l.incident_id,
           encode(sha256(convert_to(r.id::text, 'UTF8')), 'hex'), 1, l.e_description,
           l.e_sources, r.created_at, r.created_at, r.killed, 0, l.e_civilians_killed,
           {_L_FACTS}
    FROM bench_located l
    CROSS JOIN LATERAL (
        VALUES (l.report_id, l.client_id, l.created_at, l.e_killed),
               (l.report2_id, l.client2_id, l.created2_at, l.killed2)
    ) AS r(id, client_id, created_at, killed)
    WHERE r.id IS NOT NULL
"""


def _load_events(session: Session, events: list[tuple[SourceEvent, Mapped]]) -> None:
    session.execute(text("DROP TABLE IF EXISTS bench_events"))
    session.execute(
        text(
            "CREATE TEMP TABLE bench_events (e_index int PRIMARY KEY, e_lon float8, e_lat float8,"
            " e_province text, e_district text, e_match text, e_distance_km float8,"
            " e_violation_type text, e_geo_precision text, e_place_name text,"
            " e_perpetrator text, e_target text, e_killed int, e_civilians_killed int,"
            " e_description text, e_sources jsonb)"
        )
    )
    session.execute(
        text(
            "INSERT INTO bench_events SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb))"
            " AS x(e_index int, e_lon float8, e_lat float8, e_province text, e_district text,"
            " e_match text, e_distance_km float8, e_violation_type text, e_geo_precision text,"
            " e_place_name text, e_perpetrator text, e_target text, e_killed int,"
            " e_civilians_killed int, e_description text, e_sources jsonb)"
        ),
        {
            "rows": _json(
                [
                    {
                        "e_index": e.index,
                        "e_lon": e.lon,
                        "e_lat": e.lat,
                        "e_province": e.province,
                        "e_district": e.district,
                        "e_match": e.location_match,
                        "e_distance_km": e.location_distance_km,
                        "e_violation_type": e.violation_type,
                        "e_geo_precision": e.geo_precision,
                        "e_place_name": m.report.place_name,
                        "e_perpetrator": e.perpetrator,
                        "e_target": e.target,
                        "e_killed": e.killed,
                        "e_civilians_killed": e.civilians_killed,
                        "e_description": m.report.description,
                        "e_sources": [
                            s.model_dump(mode="json", exclude_none=True) for s in m.report.sources
                        ],
                    }
                    for e, m in events
                ]
            )
        },
    )


def _json(value: object) -> str:
    import orjson

    return orjson.dumps(value).decode()


def _copy_stage(session: Session, rows: list[list[object]]) -> None:
    session.execute(text(f"CREATE TEMP TABLE bench_stage ({_STAGE_COLUMNS}) ON COMMIT DROP"))
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_value(v) for v in row))
        buffer.write("\n")
    raw = session.connection().connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy("COPY bench_stage FROM STDIN") as copy:  # type: ignore[union-attr]
        copy.write(buffer.getvalue())


def _previous(session: Session) -> list[uuid.UUID]:
    return list(
        session.execute(
            text("SELECT id FROM api_keys WHERE name LIKE :prefix AND revoked_at IS NULL"),
            {"prefix": KEY_PREFIX + " (%"},
        ).scalars()
    )


def _complete(session: Session, key_id: uuid.UUID) -> bool:
    return (
        session.execute(
            text("SELECT 1 FROM audit_events WHERE action = :action AND entity_id = :key"),
            {"action": LOADED_ACTION, "key": str(key_id)},
        ).first()
        is not None
    )


def _remove(session: Session, key_ids: list[uuid.UUID]) -> int:
    """Delete earlier data sets' reports and incidents; their keys are revoked, not deleted."""
    if not key_ids:
        return 0
    # Deleting an incident checks that no incident was merged into it; without an index on
    # merged_into_id each check would scan the whole table.
    session.execute(text("CREATE INDEX bench_incidents_merged_into ON incidents (merged_into_id)"))
    removed = session.execute(
        text(
            """
            WITH gone AS (
                DELETE FROM reports WHERE reporter_key_id = ANY(:keys) RETURNING incident_id
            )
            DELETE FROM incidents i
            WHERE i.id IN (SELECT incident_id FROM gone)
              AND NOT EXISTS (SELECT 1 FROM reports r
                              WHERE r.incident_id = i.id AND r.reporter_key_id <> ALL(:keys))
            """
        ),
        {"keys": key_ids},
    ).rowcount
    session.execute(text("DROP INDEX bench_incidents_merged_into"))
    session.execute(
        text("UPDATE api_keys SET revoked_at = now() WHERE id = ANY(:keys)"), {"keys": key_ids}
    )
    return removed


def build(
    *,
    engine: Engine,
    incidents: int,
    seed: int,
    events_path: Path,
    chunk_size: int,
    replace: bool,
    log=print,
) -> None:
    started = time.perf_counter()
    name = key_name(seed, incidents)
    with Session(engine) as session:
        terms = load_terms(session)
        previous = _previous(session)
        same = session.execute(
            text("SELECT id FROM api_keys WHERE name = :name AND revoked_at IS NULL"),
            {"name": name},
        ).scalar()
        if same is not None and _complete(session, same) and not replace:
            log(f"{name}: already loaded (key {same}); --replace to load it again")
            return
        removed = _remove(session, previous)
        if removed:
            log(f"removed {removed} incidents of an earlier data set")
        key, _secret = create_key(session=session, role="reporter", name=name, actor=CONSOLE)
        session.commit()

        events = source_events(session, events_path, terms)
        generator = Generator(
            seed=seed,
            events=[e for e, _ in events],
            directory=PartyDirectory.load(session),
            terms=terms,
        )
        log(f"{len(events)} source events from {events_path.name}; loading {incidents} incidents")
        timings = {"generate": 0.0, "copy": 0.0, "locate": 0.0, "insert": 0.0}
        done = 0
        while done < incidents:
            t0 = time.perf_counter()
            rows = generator.rows(min(chunk_size, incidents - done))
            t1 = time.perf_counter()
            _load_events(session, events)
            _copy_stage(session, rows)
            t2 = time.perf_counter()
            session.execute(text(_LOCATE))
            t3 = time.perf_counter()
            session.execute(text(_INSERT_INCIDENTS))
            session.execute(text(_INSERT_REPORTS), {"key": key["id"]})
            session.commit()
            t4 = time.perf_counter()
            for phase, seconds in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                timings[phase] += seconds
            done += len(rows)
            log(f"  {done:>9} incidents  {time.perf_counter() - started:7.1f} s", flush=True)

        record(
            session,
            actor=CONSOLE,
            action=LOADED_ACTION,
            entity_type="api_key",
            entity_id=str(key["id"]),
            after={"incidents": incidents, "seed": seed, "events": events_path.name},
        )
        session.commit()
        # The rollup deltas the loads appended, folded in as the scheduler would (readers
        # are exact either way; the map benchmarks measure the folded state).
        t0 = time.perf_counter()
        session.execute(text("SELECT compact_incident_rollups()"))
        session.commit()
        timings["fold"] = time.perf_counter() - t0
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        t0 = time.perf_counter()
        conn.execute(text("ANALYZE incidents"))
        conn.execute(text("ANALYZE reports"))
        timings["analyze"] = time.perf_counter() - t0
    phases = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in timings.items())
    log(f"{name}: loaded in {time.perf_counter() - started:.1f} s ({phases})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dataset", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--database-url", required=True, help="postgresql://... (migrated, seeded)")
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20161230)
    parser.add_argument(
        "--events",
        type=Path,
        default=None,
        help=f"UCDP GED CSV (default: $CEASEFIRE_DATA_DIR/{DEFAULT_EVENTS})",
    )
    parser.add_argument("--chunk-size", type=int, default=100_000, help="incidents per transaction")
    parser.add_argument("--replace", action="store_true", help="load again even if complete")
    args = parser.parse_args(argv)
    if args.incidents < 1 or args.chunk_size < 1:
        parser.error("--incidents and --chunk-size must be positive")
    events_path = args.events or get_settings().data_dir / DEFAULT_EVENTS
    engine = create_engine(sqlalchemy_url(args.database_url))
    try:
        build(
            engine=engine,
            incidents=args.incidents,
            seed=args.seed,
            events_path=events_path,
            chunk_size=args.chunk_size,
            replace=args.replace,
        )
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
