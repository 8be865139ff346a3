"""Exports from a real server process on committed data: the answer streams through many
cursor fetches after the route has returned (the request's session stays open until the
body is sent), and clients leaving after the first bytes leave no transaction, cursor or
slot behind (on loopback the server may have written the whole small body by then: the
1M-incident run of ``bench/export.py`` streams for seconds)."""

from __future__ import annotations

import csv
import io
import time

import httpx
import pyogrio
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from service.audit.service import CONSOLE
from service.auth.service import create_key
from service.config import sqlalchemy_url
from service.report.service import Submitter
from tests.conftest import TEST_DATABASE_URL
from tests.live import copy_database, drop_database, free_port, serving
from tests.map_incidents import make_incidents, random_points, set_status

pytestmark = [pytest.mark.live, pytest.mark.serial]

INCIDENTS = 300
CHUNK = 40  # rows per FETCH on the server: several fetches per export


@pytest.fixture(scope="module")
def live(engine, tmp_path_factory):
    """One `ceasefire serve` on a copy of the test database holding 300 committed
    incidents (100 verified); a monitor's key. Removed afterwards."""
    engine.dispose()  # the copy needs the template database to have no connections
    url = copy_database(TEST_DATABASE_URL, "export")
    live_engine = create_engine(sqlalchemy_url(url))
    try:
        with Session(live_engine) as session:
            reporter, _ = create_key(session=session, role="reporter", name="r", actor=CONSOLE)
            _, secret = create_key(session=session, role="monitor", name="m", actor=CONSOLE)
            submitter = Submitter(key_id=reporter["id"], actor=CONSOLE)
            ids = make_incidents(session, submitter, random_points(INCIDENTS, seed=3))
            set_status(session, ids[:100], "verified")
            session.commit()
        env = {"CEASEFIRE_EXPORT_CHUNK_ROWS": str(CHUNK), "CEASEFIRE_LOG_LEVEL": "WARNING"}
        with serving(url, [free_port()], tmp_path_factory.mktemp("export"), env) as urls:
            yield urls[0], {"Authorization": f"Bearer {secret}"}, live_engine
    finally:
        live_engine.dispose()
        drop_database(url)


def rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def busy_connections(engine) -> list[str]:
    """The server's connections doing something (a statement running, or a transaction
    open between two), each as its backend, state and last statement; ours is not one of
    them."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT pid || ' ' || state || ': ' || query FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = 'ceasefire'"
                    " AND pid <> pg_backend_pid() AND state <> 'idle'"
                )
            ).scalars()
        )


def test_a_real_server_streams_every_row_after_the_route_returned(live, tmp_path):
    base, monitor, _ = live
    full = rows(httpx.get(f"{base}/v1/exports/incidents.csv", headers=monitor, timeout=60).content)
    assert len(full) == INCIDENTS == len({r["event_id"] for r in full})
    public = rows(httpx.get(f"{base}/v1/exports/incidents.csv?hxl=true", timeout=60).content)
    assert len(public) == 1 + 100  # the hashtag row, then the verified incidents
    response = httpx.get(f"{base}/v1/exports/incidents.gpkg", headers=monitor, timeout=60)
    assert response.status_code == 200
    path = tmp_path / "live.gpkg"
    path.write_bytes(response.content)
    assert pyogrio.read_info(path, layer="incidents")["features"] == INCIDENTS


def test_clients_leaving_early_leave_nothing_open(live):
    base, monitor, engine = live
    for _ in range(6):  # more than the exports allowed at once: each slot came back
        with httpx.stream(
            "GET", f"{base}/v1/exports/incidents.csv", headers=monitor, timeout=60
        ) as response:
            assert response.status_code == 200
            next(response.iter_bytes())
    # The clients leave without waiting for the server: it may still be streaming or
    # closing an export, its transaction open between two statements, for a moment. Once
    # every connection is idle it has nothing left to do (the clients are gone), so idle it
    # must stay: nothing was left open.
    deadline = time.monotonic() + 10
    while busy_connections(engine) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert busy_connections(engine) == []
    after = httpx.get(f"{base}/v1/exports/incidents.csv", headers=monitor, timeout=60)
    assert len(rows(after.content)) == INCIDENTS
