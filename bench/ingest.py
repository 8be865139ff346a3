"""Ingest figures: batch ingest through ``submit()`` against the bare SQL floor, and POST latency.

Batch mode (the default) recreates a scratch database (migrated and seeded), replicates the
real UCDP rows deterministically to ``--reports`` reports (default 100,000; every copy moved
by up to ``JITTER_KM`` and given its own client report id) and stores them twice, in batches
of ``--batch`` (default 500), alternating batch by batch so both see the same table sizes:

- **service**: ``service.report.service.submit`` + commit, exactly as the API and the importer
  call it (locating, attribution, classification, report, incident, revision, audit event);
- **floor**: one SQL statement per batch that stores the same rows (reports, incidents,
  revisions, audit events) with the same point-in-polygon lookups (district and province
  pieces, nearest province and district for points just outside), + commit. Attribution and
  classification are computed beforehand, outside the clock, by the service's own rules: the
  floor is what the database alone must do.

It prints reports/s for both, the median batch times and their ratio, and checks that both
paths stored the same places and classifications.

    .venv/bin/python -m bench.ingest [--database-url URL] [--reports N] [--batch 500]

With ``--against CHECKOUT`` (another checkout beside this one, e.g. ``../main``, with its
own ``.venv``), the two checkouts' ``submit()`` run side by side instead: each in a process of
its own (``bench/ingest_worker.py``) on its own scratch database (``_a`` and ``_b``), the same
replicated reports, batches alternating between them (which goes first alternating too), so
both see the same machine load and the same table sizes. It prints reports/s, median batch
times and their ratio (this checkout / the other):

    .venv/bin/python -m bench.ingest --against ../main [--reports 20000]

``--floor-parts`` runs the floor whole, without its audit events, and without its revisions
too, beside the COPY floor (batches alternating), and prints each one's ratio to the COPY
floor: how low the stored work itself lets ``ratio service/copy floor`` go.

``--correlation-cost`` runs this checkout against itself with automatic correlation switched
off in the second lane (every report opens its own incident, as before issue 12): the price
of correlation when a reporter's reports have no other reporter's incidents to join.

Batch mode also runs two more lanes on the same database: **no-corr** (``submit()`` with
correlation off, its own key: it and the floor give the service lane other keys' incidents
of the same events to join, the worst case) and **copy** (the physical limit: the same rows
COPYed into a staging table and inserted with one statement into a table shaped like
reports, province looked up in the subdivided polygons; no incidents, revisions, audit or
foreign keys), and prints ``ratio service/copy floor`` and ``ratio correlation on/off``.

POST mode measures single-report ``POST /v1/reports`` latency against a running server
(bodies per the documented contract; 201 expected), at ``--concurrency`` (default 8):

    .venv/bin/python -m bench.ingest --post-url http://127.0.0.1:PORT --key SECRET \\
        [--posts 2000] [--concurrency 8]

The server's per-key rate limit (``CEASEFIRE_RATE_LIMIT_REQUESTS``, default 1200 a minute)
must be raised for the run, or the figures measure 429s (they are counted apart).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import orjson
from sqlalchemy import TextClause, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service.config import get_settings, sqlalchemy_url
from service.importer.service import read_ucdp
from service.importer.ucdp import Mapped
from service.report.schemas import PointIn, ReportCreate

JITTER_KM = 1.0
KM_PER_DEGREE = 111.32
BENCH_NAMESPACE = uuid.UUID("0c5e4b6a-95a4-5b0e-8f4e-4c1f0b8e2d17")
DEFAULT_EVENTS = "events/ucdp_ged_syria_2016-01_2017-01.csv"


def replicate(reports: list[ReportCreate], count: int, seed: int) -> list[ReportCreate]:
    """``count`` reports cycling through the real ones, each point moved a little."""
    rng = random.Random(seed)  # noqa: S311 - reproducible, not secret
    out = []
    for i in range(count):
        base = reports[i % len(reports)]
        update: dict = {"client_report_id": uuid.uuid5(BENCH_NAMESPACE, f"ingest:{seed}:{i}")}
        if base.location is not None:
            lon, lat = base.location.coordinates
            distance = JITTER_KM * math.sqrt(rng.random())
            angle = rng.random() * 2 * math.pi
            lat2 = lat + distance * math.sin(angle) / KM_PER_DEGREE
            lon2 = lon + distance * math.cos(angle) / (KM_PER_DEGREE * math.cos(math.radians(lat)))
            update["location"] = PointIn(type="Point", coordinates=[round(lon2, 6), round(lat2, 6)])
        out.append(base.model_copy(update=update))
    return out


def real_reports(events: Path, timezone) -> list[ReportCreate]:
    return [m.report for m in read_ucdp(events, timezone=timezone) if isinstance(m, Mapped)]


# ---------------------------------------------------------------- batch mode


def recreate(url: str) -> None:
    target = make_url(sqlalchemy_url(url))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def prepare(url: str) -> None:
    """A fresh scratch database at head with the theatre seeded."""
    from alembic import command

    from service.cli import alembic_config
    from service.theatre.service import seed

    recreate(url)
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    command.upgrade(alembic_config(), "heads")
    settings = get_settings()
    engine = create_engine(sqlalchemy_url(url))
    with Session(engine) as session:
        seed(session, theatre_file=settings.theatre_file, data_dir=settings.data_dir)
        session.commit()
    engine.dispose()


_FLOOR_INPUT = (
    "id uuid, reporter_key_id uuid, client_report_id uuid, request_hash text,"
    " occurred_at timestamptz, time_precision text, geo_precision text, place_name text,"
    " violation_type text, perpetrator_raw text, perpetrator_party_id text, target_raw text,"
    " target_party_id text, responsible_guarantors varchar(3)[], ceasefire_status text,"
    " killed int, injured int, civilians_killed int, description text, sources jsonb,"
    " lon float8, lat float8, province_given text"
)
_EVENT = (
    "occurred_at, time_precision, geom, geo_precision, place_name, province_pcode,"
    " district_pcode, location_match, location_distance_km, violation_type, perpetrator_raw,"
    " perpetrator_party_id, target_raw, target_party_id, responsible_guarantors,"
    " ceasefire_status, killed, injured, civilians_killed"
)

# Everything one batch stores, in one statement, in parts: the reports (located), the
# incidents they open, their revisions and their audit events (``floor_statement`` joins
# them; ``--floor-parts`` measures the floor without the last ones).
_FLOOR_REPORTS = f"""
    WITH x AS (
        SELECT x.*, CASE WHEN x.lon IS NOT NULL
                         THEN ST_SetSRID(ST_MakePoint(x.lon, x.lat), 4326) END AS geom,
               gen_random_uuid() AS incident_id
        FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x({_FLOOR_INPUT})
    ),
    located AS (
        SELECT x.*,
               coalesce(da.parent_pcode, pr.pcode, near.province, x.province_given)
                   AS province_pcode,
               coalesce(d.pcode, near.district) AS district_pcode,
               CASE WHEN x.geom IS NULL THEN 'province_only'
                    WHEN d.pcode IS NOT NULL OR pr.pcode IS NOT NULL THEN 'inside'
                    ELSE 'nearest' END AS location_match,
               near.km AS location_distance_km
        FROM x
        LEFT JOIN LATERAL (
            SELECT p.pcode FROM admin_area_pieces p
            WHERE p.level = 2 AND ST_Intersects(p.geom, x.geom) ORDER BY p.pcode LIMIT 1) d ON true
        LEFT JOIN admin_areas da ON da.pcode = d.pcode
        LEFT JOIN LATERAL (
            SELECT p.pcode FROM admin_area_pieces p
            WHERE p.level = 1 AND ST_Intersects(p.geom, x.geom) ORDER BY p.pcode LIMIT 1) pr
            ON true
        LEFT JOIN LATERAL (
            SELECT c.pcode AS province, round((c.m / 1000)::numeric, 3)::float8 AS km,
                   (SELECT a.pcode FROM admin_areas a
                    WHERE a.level = 2 AND a.parent_pcode = c.pcode
                    ORDER BY ST_Distance(a.geom::geography, x.geom::geography), a.pcode
                    LIMIT 1) AS district
            FROM (SELECT a.pcode, ST_Distance(a.geom::geography, x.geom::geography) AS m
                  FROM admin_areas a
                  -- only for the rare point outside every piece (a one-time filter per row)
                  WHERE a.level = 1 AND x.geom IS NOT NULL AND d.pcode IS NULL AND pr.pcode IS NULL
                  ORDER BY a.geom <-> x.geom LIMIT 3) c
            WHERE c.m <= :limit_m
            ORDER BY c.m, c.pcode LIMIT 1
        ) near ON true
    ),
    stored AS (
        INSERT INTO reports (id, reporter_key_id, client_report_id, incident_id, request_hash,
                             revision, description, sources, created_at, updated_at, {_EVENT})
        SELECT id, reporter_key_id, client_report_id, incident_id, request_hash, 1,
               description, sources, now(), now(), {_EVENT}
        FROM located WHERE province_pcode IS NOT NULL
        ON CONFLICT ON CONSTRAINT uq_reports_reporter_client DO NOTHING
        RETURNING *
    )
"""
_FLOOR_INCIDENTS = f"""
    opened AS (
        INSERT INTO incidents (id, report_count, created_at, updated_at, {_EVENT})
        SELECT incident_id, 1, created_at, created_at, {_EVENT} FROM stored
    )
"""
_FLOOR_REVISIONS = """
    revised AS (
        INSERT INTO report_revisions (report_id, revision, actor_key_id, snapshot, created_at)
        SELECT s.id, 1, s.reporter_key_id, to_jsonb(s) - 'reporter_key_id', s.created_at
        FROM stored s
    )
"""
_FLOOR_AUDIT = """
    INSERT INTO audit_events (actor_key_id, actor, action, entity_type, entity_id, after)
    SELECT NULL, 'console', 'report.created', 'report', s.id::text,
           jsonb_build_object('incident_id', s.incident_id, 'revision', 1)
    FROM stored s
"""


def floor_statement(*, revisions: bool = True, audit: bool = True) -> TextClause:
    """The floor's statement: reports and the incidents they open, with or without their
    revisions and audit events. (Reports cannot go without their incidents: the foreign
    key is checked at commit.)"""
    ctes = [_FLOOR_REPORTS, _FLOOR_INCIDENTS] + ([_FLOOR_REVISIONS] if revisions else [])
    final = _FLOOR_AUDIT if audit else "SELECT count(*) FROM stored"
    return text(",".join(ctes) + final)


FLOOR = floor_statement()


# The physical limit: the same report rows COPYed into a staging table, then one INSERT into a
# table shaped like reports (its columns, defaults, checks and indexes; no foreign keys, no
# incidents, revisions or audit) with the province looked up in the subdivided polygons.
COPY_COLUMNS = (
    "id, reporter_key_id, client_report_id, incident_id, request_hash, description, sources,"
    " occurred_at, time_precision, geo_precision, place_name, violation_type, perpetrator_raw,"
    " perpetrator_party_id, target_raw, target_party_id, responsible_guarantors,"
    " ceasefire_status, killed, injured, civilians_killed, lon, lat, province_given"
)
COPY_SETUP = (
    "CREATE TABLE IF NOT EXISTS bench_copy_reports (LIKE reports INCLUDING DEFAULTS"
    " INCLUDING CONSTRAINTS INCLUDING INDEXES)",
    # a point outside every piece has no province here (the service finds the nearest)
    "ALTER TABLE bench_copy_reports ALTER province_pcode DROP NOT NULL",
    "CREATE UNLOGGED TABLE IF NOT EXISTS bench_copy_stage (id uuid, reporter_key_id uuid,"
    " client_report_id uuid, incident_id uuid, request_hash text, description text,"
    " sources jsonb, occurred_at timestamptz, time_precision text, geo_precision text,"
    " place_name text, violation_type text, perpetrator_raw text, perpetrator_party_id text,"
    " target_raw text, target_party_id text, responsible_guarantors varchar(3)[],"
    " ceasefire_status text, killed int, injured int, civilians_killed int, lon float8,"
    " lat float8, province_given text)",
)
COPY_INSERT = text(
    """
    INSERT INTO bench_copy_reports (id, reporter_key_id, client_report_id, incident_id,
        request_hash, revision, description, sources, created_at, updated_at, occurred_at,
        time_precision, geom, geo_precision, place_name, province_pcode, location_match,
        violation_type, perpetrator_raw, perpetrator_party_id, target_raw, target_party_id,
        responsible_guarantors, ceasefire_status, killed, injured, civilians_killed)
    SELECT s.id, s.reporter_key_id, s.client_report_id, s.incident_id, s.request_hash, 1,
           s.description, s.sources, now(), now(), s.occurred_at, s.time_precision, g.geom,
           s.geo_precision, s.place_name,
           coalesce((SELECT p.pcode FROM admin_area_pieces p
                     WHERE p.level = 1 AND ST_Intersects(p.geom, g.geom) LIMIT 1),
                    s.province_given),
           CASE WHEN g.geom IS NULL THEN 'province_only' ELSE 'inside' END,
           s.violation_type, s.perpetrator_raw, s.perpetrator_party_id, s.target_raw,
           s.target_party_id, s.responsible_guarantors, s.ceasefire_status, s.killed,
           s.injured, s.civilians_killed
    FROM bench_copy_stage s
    CROSS JOIN LATERAL (SELECT CASE WHEN s.lon IS NOT NULL
                                    THEN ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) END
                               AS geom) g
    """
)


def copy_floor(session: Session, chunk: list[dict]) -> None:
    """One batch of the COPY floor (not committed)."""
    session.execute(text("TRUNCATE bench_copy_stage"))
    columns = [c.strip() for c in COPY_COLUMNS.split(",")]
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY bench_copy_stage ({COPY_COLUMNS}) FROM STDIN") as copy:
        for row in chunk:
            copy.write_row(
                [orjson.dumps(row[c]).decode() if c == "sources" else row.get(c) for c in columns]
            )
    session.execute(COPY_INSERT)


def floor_rows(session: Session, reports: list[ReportCreate], key_id: uuid.UUID) -> list[dict]:
    """The floor's input: every column ``submit`` derives without the database, by its rules."""
    from service.geography.service import AreaNames
    from service.party.service import PartyDirectory
    from service.report.service import _derive, request_hash
    from service.theatre.terms import load_terms

    terms, directory = load_terms(session), PartyDirectory.load(session)
    provinces = AreaNames.load(session)
    rows = []
    for r in reports:
        row = _derive(r, place={}, directory=directory, terms=terms)
        lon, lat = r.location.coordinates if r.location else (None, None)
        given = provinces.resolve(r.province) if r.province else None
        row.update(
            id=uuid.uuid4(),
            reporter_key_id=key_id,
            client_report_id=r.client_report_id,
            request_hash=request_hash(r),
            lon=lon,
            lat=lat,
            province_given=given.pcode if given else None,
        )
        rows.append(row)
    return rows


@dataclass
class Lane:
    name: str
    seconds: list[float]
    stored: int = 0

    @property
    def total(self) -> float:
        return sum(self.seconds)


@contextmanager
def correlation_off() -> Iterator[None]:
    """Within: every report opens its own incident, as before issue 12 (the bench's
    comparison only; the service has no such switch)."""
    from service.incident import correlation

    def opened(session, *, reporter_key_id, reports, **_):  # noqa: ANN001, ANN202, ARG001
        minted = set()
        for report in reports:
            report["incident_id"] = uuid.uuid4()
            report["correlation"] = None
            minted.add(report["incident_id"])
        return minted

    original = correlation.correlate
    correlation.correlate = opened
    try:
        yield
    finally:
        correlation.correlate = original


def run_batches(url: str, reports: list[ReportCreate], batch: int) -> tuple[Lane, Lane, Lane, Lane]:
    from service.audit.service import CONSOLE
    from service.auth.service import create_key
    from service.report.service import Submitter, submit

    engine = create_engine(sqlalchemy_url(url))
    with Session(engine, expire_on_commit=False) as session:
        service_key, _ = create_key(
            session=session, role="reporter", name="bench ingest: service", actor=CONSOLE
        )
        floor_key, _ = create_key(
            session=session, role="reporter", name="bench ingest: floor", actor=CONSOLE
        )
        session.commit()
        plain_key, _ = create_key(
            session=session, role="reporter", name="bench ingest: no correlation", actor=CONSOLE
        )
        submitter = Submitter(key_id=service_key["id"], actor=CONSOLE)
        plain = Submitter(key_id=plain_key["id"], actor=CONSOLE)
        prepared = floor_rows(session, reports, floor_key["id"])
        session.commit()
        limit_m = get_settings().locate_max_distance_km * 1000
        for statement in COPY_SETUP:
            session.execute(text(statement))
        session.commit()
        # The input (every replicated report and floor row, held for the whole run) is the
        # bench's, not the work measured: frozen, the collector's full passes no longer walk
        # it (as bench/ingest_worker.py does for its lanes).
        gc.freeze()
        service, floor = Lane("service", []), Lane("floor", [])
        uncorrelated, copied = Lane("no-corr", []), Lane("copy", [])
        for row in prepared:
            row["incident_id"] = uuid.uuid4()

        def via_submit(
            lane: Lane, who: Submitter, chunk: list[ReportCreate], correlating: bool = True
        ) -> None:
            t0 = time.perf_counter()
            with nullcontext() if correlating else correlation_off():
                outcomes = submit(session=session, submitter=who, reports_in=chunk)
            session.commit()
            lane.seconds.append(time.perf_counter() - t0)
            lane.stored += sum(1 for o in outcomes if o.created)

        def via_service(chunk: list[ReportCreate]) -> None:
            via_submit(service, submitter, chunk)

        def via_uncorrelated(chunk: list[ReportCreate]) -> None:
            # Correlation off for this lane only (its own key, the same table sizes): the
            # price of issue 12's automatic correlation, measured beside the rest.
            via_submit(uncorrelated, plain, chunk, correlating=False)

        def via_copy(chunk: list[dict]) -> None:
            t0 = time.perf_counter()
            copy_floor(session, chunk)
            session.commit()
            copied.seconds.append(time.perf_counter() - t0)
            copied.stored += len(chunk)

        def via_floor(chunk: list[dict]) -> None:
            t0 = time.perf_counter()
            payload = orjson.dumps(chunk, default=str).decode()
            session.execute(FLOOR, {"rows": payload, "limit_m": limit_m})
            session.commit()
            floor.seconds.append(time.perf_counter() - t0)

        batches = range(0, len(reports), batch)
        for n, start in enumerate(batches):
            lanes = [
                lambda s=start: via_service(reports[s : s + batch]),
                lambda s=start: via_floor(prepared[s : s + batch]),
                lambda s=start: via_uncorrelated(reports[s : s + batch]),
                lambda s=start: via_copy(prepared[s : s + batch]),
            ]
            # Which lane goes first rotates batch by batch.
            for lane in lanes[n % 4 :] + lanes[: n % 4]:
                lane()
            if (n + 1) % 20 == 0:
                print(f"  {start + batch:>7} reports", file=sys.stderr, flush=True)

        floor.stored = session.execute(
            text("SELECT count(*) FROM reports WHERE reporter_key_id = :k"), {"k": floor_key["id"]}
        ).scalar_one()
        disagree = session.execute(
            text(
                """
                SELECT count(*) FROM reports a JOIN reports b USING (client_report_id)
                WHERE a.reporter_key_id = :a AND b.reporter_key_id = :b
                  AND (a.province_pcode, a.district_pcode, a.location_match,
                       a.perpetrator_party_id, a.target_party_id, a.ceasefire_status,
                       a.responsible_guarantors)
                      IS DISTINCT FROM
                      (b.province_pcode, b.district_pcode, b.location_match,
                       b.perpetrator_party_id, b.target_party_id, b.ceasefire_status,
                       b.responsible_guarantors)
                """
            ),
            {"a": service_key["id"], "b": floor_key["id"]},
        ).scalar_one()
        print(
            f"stored: service {service.stored}, floor {floor.stored}; rows that differ: {disagree}"
        )
    engine.dispose()
    return service, floor, uncorrelated, copied


def batch_mode(args: argparse.Namespace) -> None:
    url = args.database_url
    print(f"preparing {make_url(url).database} (recreated, migrated, seeded)", file=sys.stderr)
    prepare(url)
    from service.theatre.terms import load_terms

    engine = create_engine(sqlalchemy_url(url))
    with Session(engine) as session:
        timezone = load_terms(session).timezone
    engine.dispose()
    real = real_reports(args.events, timezone)
    reports = replicate(real, args.reports, args.seed)
    print(
        f"{len(real)} real reports replicated to {len(reports)}; batches of {args.batch},"
        " service and floor alternating",
        file=sys.stderr,
    )
    service, floor, uncorrelated, copied = run_batches(url, reports, args.batch)
    print(f"{'':8} {'reports/s':>10} {'total s':>8} {'batch p50 ms':>13} {'batch p90 ms':>13}")
    for lane in (service, floor, uncorrelated, copied):
        cuts = statistics.quantiles(lane.seconds, n=10)
        print(
            f"{lane.name:8} {lane.stored / lane.total:10.0f} {lane.total:8.1f}"
            f" {statistics.median(lane.seconds) * 1000:13.1f} {cuts[8] * 1000:13.1f}"
        )
    print(
        f"ratio service/floor: total time {service.total / floor.total:.2f}x,"
        f" median batch {statistics.median(service.seconds) / statistics.median(floor.seconds):.2f}x"
    )
    print(
        f"ratio service/copy floor: {service.total / copied.total:.2f}x"
        f" (median batch {statistics.median(service.seconds) / statistics.median(copied.seconds):.2f}x)"
    )
    print(
        f"ratio correlation on/off: total time {service.total / uncorrelated.total:.2f}x,"
        f" median batch {statistics.median(service.seconds) / statistics.median(uncorrelated.seconds):.2f}x"
    )


def floor_parts_mode(args: argparse.Namespace) -> None:
    """The floor in parts beside the COPY floor: what the same rows cost in bare SQL when
    each batch stores all of it, then without its audit events, then without its revisions
    too (reports and the incidents they open), each lane its own key, batches alternating
    with the lane that goes first rotating. How far below the COPY floor ratio the stored
    work itself allows ``submit()`` to go."""
    from service.audit.service import CONSOLE
    from service.auth.service import create_key
    from service.theatre.terms import load_terms

    url = args.database_url
    prepare(url)
    engine = create_engine(sqlalchemy_url(url))
    with Session(engine) as session:
        timezone = load_terms(session).timezone
    reports = replicate(real_reports(args.events, timezone), args.reports, args.seed)
    statements = {
        "floor": floor_statement(),
        "no audit": floor_statement(audit=False),
        "no audit, revisions": floor_statement(revisions=False, audit=False),
    }
    limit_m = get_settings().locate_max_distance_km * 1000
    with Session(engine) as session:
        rows = {}
        for name in [*statements, "copy"]:
            key, _ = create_key(
                session=session, role="reporter", name=f"floor parts: {name}", actor=CONSOLE
            )
            rows[name] = floor_rows(session, reports, key["id"])
            for row in rows[name]:
                row["incident_id"] = uuid.uuid4()
        for statement in COPY_SETUP:
            session.execute(text(statement))
        session.commit()
        gc.freeze()
        seconds: dict[str, list[float]] = {name: [] for name in rows}
        names = list(rows)
        for n, start in enumerate(range(0, len(reports), args.batch)):
            for name in names[n % len(names) :] + names[: n % len(names)]:
                chunk = rows[name][start : start + args.batch]
                t0 = time.perf_counter()
                if name == "copy":
                    copy_floor(session, chunk)
                else:
                    payload = orjson.dumps(chunk, default=str).decode()
                    session.execute(statements[name], {"rows": payload, "limit_m": limit_m})
                session.commit()
                seconds[name].append(time.perf_counter() - t0)
    engine.dispose()
    copied = sum(seconds["copy"])
    print(f"{'':20} {'reports/s':>10} {'batch p50 ms':>13} {'x copy floor':>13}")
    for name, lane in seconds.items():
        print(
            f"{name:20} {len(reports) / sum(lane):10.0f} {statistics.median(lane) * 1000:13.1f}"
            f" {sum(lane) / copied:12.2f}x"
        )


# ---------------------------------------------------------------- POST mode


def post_mode(args: argparse.Namespace) -> None:
    from zoneinfo import ZoneInfo

    import httpx

    from service.theatre.service import read_theatre_file

    timezone = ZoneInfo(read_theatre_file(get_settings().theatre_file).theatre.timezone)
    # A fresh seed per run: every POST is a new report, never an idempotent replay.
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    bodies = [
        orjson.dumps(r.model_dump(mode="json", exclude_none=True))
        for r in replicate(real_reports(args.events, timezone), args.posts, seed)
    ]
    url = args.post_url.rstrip("/") + "/v1/reports"
    headers = {"Authorization": f"Bearer {args.key}", "Content-Type": "application/json"}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    next_body = iter(range(len(bodies)))
    deadline = time.monotonic() + args.max_seconds

    def worker() -> None:
        with httpx.Client(headers=headers, timeout=30) as client:
            while time.monotonic() < deadline:
                with lock:
                    i = next(next_body, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                response = client.post(url, content=bodies[i])
                elapsed = time.perf_counter() - t0
                with lock:
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if response.status_code == 201:
                        latencies.append(elapsed)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    print(f"POST {url} x{sum(statuses.values())} at concurrency {args.concurrency}: {statuses}")
    if len(latencies) >= 2:
        cuts = statistics.quantiles(latencies, n=100)
        print(
            f"201: p50 {statistics.median(latencies) * 1000:.1f} ms,"
            f" p99 {cuts[98] * 1000:.1f} ms, {len(latencies) / wall:.0f} reports/s"
        )


def against_mode(args: argparse.Namespace) -> None:
    import subprocess

    here = Path(__file__).resolve().parent.parent
    base = make_url(args.database_url)
    lanes = []
    if args.correlation_cost:
        # This checkout twice: correlation on, and off (each its own scratch database).
        runs = [("this", here, "a", []), ("no-corr", here, "b", ["--correlation-off"])]
    else:
        other = args.against.resolve()
        runs = [("this", here, "a", []), (other.name, other, "b", [])]
    for name, checkout, suffix, extra in runs:
        url = base.set(database=f"{base.database}_{suffix}").render_as_string(hide_password=False)
        command = [
            str(checkout / ".venv" / "bin" / "python"),
            str(here / "bench" / "ingest_worker.py"),
            *("--database-url", url, "--reports", str(args.reports)),
            *("--batch", str(args.batch), "--seed", str(args.seed), "--events", str(args.events)),
            *extra,
        ]
        process = subprocess.Popen(  # noqa: S603 - our own worker, arguments we built
            command,
            cwd=checkout,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "DATABASE_URL": url},
        )
        lanes.append((name, process, Lane(name, [])))
    for name, process, _ in lanes:
        ready = process.stdout.readline()  # type: ignore[union-attr]
        if not ready.startswith("ready"):
            raise SystemExit(f"lane {name} did not start")
    batches = math.ceil(args.reports / args.batch)
    for n in range(batches):
        for _, process, lane in lanes if n % 2 == 0 else reversed(lanes):
            process.stdin.write(f"{n}\n")  # type: ignore[union-attr]
            process.stdin.flush()  # type: ignore[union-attr]
            seconds, stored = process.stdout.readline().split()  # type: ignore[union-attr]
            lane.seconds.append(float(seconds))
            lane.stored += int(stored)
        if (n + 1) % 10 == 0:
            print(f"  {(n + 1) * args.batch:>7} reports", file=sys.stderr, flush=True)
    for _, process, _ in lanes:
        process.stdin.close()  # type: ignore[union-attr]
        process.wait()
    print(f"{'':12} {'reports/s':>10} {'total s':>8} {'batch p50 ms':>13} {'batch p90 ms':>13}")
    for name, _, lane in lanes:
        cuts = statistics.quantiles(lane.seconds, n=10)
        print(
            f"{name:12} {lane.stored / lane.total:10.0f} {lane.total:8.1f}"
            f" {statistics.median(lane.seconds) * 1000:13.1f} {cuts[8] * 1000:13.1f}"
        )
    (_, _, mine), (other_name, _, theirs) = lanes
    print(
        f"ratio this/{other_name}: total time {mine.total / theirs.total:.2f}x,"
        f" median batch {statistics.median(mine.seconds) / statistics.median(theirs.seconds):.2f}x"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n")[0]
    )
    default_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/ceasefire")
    parser.add_argument(
        "--database-url",
        default=make_url(default_url)
        .set(database=f"{make_url(default_url).database}_bench_ingest")
        .render_as_string(hide_password=False),
        help="scratch database, dropped and recreated (default: $DATABASE_URL's name + _bench_ingest)",
    )
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=None, help="default 1 (batch), random (POST)")
    parser.add_argument("--events", type=Path, default=get_settings().data_dir / DEFAULT_EVENTS)
    parser.add_argument(
        "--against", type=Path, default=None, help="another checkout to compare batch ingest with"
    )
    parser.add_argument(
        "--correlation-cost",
        action="store_true",
        help="this checkout's submit() with automatic correlation against without (as --against)",
    )
    parser.add_argument(
        "--floor-parts",
        action="store_true",
        help="the floor with and without its revisions and audit events, beside the COPY floor",
    )
    parser.add_argument("--post-url", default=None, help="measure POST /v1/reports on this server")
    parser.add_argument(
        "--key", default=os.environ.get("CEASEFIRE_BENCH_KEY"), help="Bearer secret"
    )
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=120, help="stop POSTing after this")
    args = parser.parse_args(argv)
    if args.against or args.correlation_cost:
        args.seed = 1 if args.seed is None else args.seed
        against_mode(args)
    elif args.floor_parts:
        args.seed = 1 if args.seed is None else args.seed
        floor_parts_mode(args)
    elif args.post_url:
        if not args.key:
            parser.error("--post-url needs --key (or CEASEFIRE_BENCH_KEY): a reporter's secret")
        post_mode(args)
    else:
        args.seed = 1 if args.seed is None else args.seed
        batch_mode(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
