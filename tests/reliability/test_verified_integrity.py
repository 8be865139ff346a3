"""No report changes a verified incident behind a verifier's back (run by `make test-reliability`).

Against a real server process: 50 incidents are reported and verified; then 10 reporter keys
send 1,000 reports at them concurrently (single POSTs and batches) naming a random verified
incident: extreme casualties (1,000,000), far places, months-old times, other types, unknown
incidents, and some plausible corroborations. Afterwards the published figures of every
verified incident (public items, and the public province statistics) must be what they were,
every attempt must be in the audit trail (a refusal or a pending review), and the test prints
``verified incidents altered: N`` with N computed.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.live import LiveServer, create_key, prepare_database, sibling_database_url

INCIDENTS = 50
REPORTERS = 10
ATTACKS = 1_000
BATCHES = 10  # of the attacks, this many batches of BATCH_SIZE; the rest are single POSTs
BATCH_SIZE = 20
THREADS = 12
HUGE = {"killed": 1_000_000, "injured": 1_000_000, "civilians_killed": 1_000_000}
# Places well inside other governorates, hundreds of km from the incidents (Idleb, Aleppo).
FAR = [(36.10, 32.62), (36.72, 34.73), (39.01, 35.95), (40.14, 35.33)]
TYPES = {"shelling": ("small_arms", "airstrike"), "airstrike": ("shelling", "sniper")}
SAME_FAMILY = {"shelling": "shelling", "airstrike": "barrel_bomb"}


def incident_body(rng: random.Random, n: int) -> dict:
    return {
        "occurred_at": dt.datetime(2017, 1, 1 + n % 28, 6 + n % 12, tzinfo=dt.UTC).isoformat(),
        "location": {
            "type": "Point",
            "coordinates": [round(rng.uniform(36.5, 37.1), 5), round(rng.uniform(35.8, 36.2), 5)],
        },
        "violation_type": "shelling" if n % 2 else "airstrike",
        "perpetrator": "Syrian Arab Army",
        "target": "Ahrar al-Sham",
        "casualties": {"killed": 1 + n % 4, "injured": n % 3, "civilians_killed": n % 2},
        "client_report_id": str(uuid.uuid4()),
    }


def attack_body(rng: random.Random, target: dict) -> tuple[dict, str]:
    """A report naming ``target`` (its id and the body that opened it), and its kind."""
    kind = rng.choice(["far", "old", "type", "unknown", "plausible", "plausible", "mixed"])
    lon, lat = target["body"]["location"]["coordinates"]
    at = dt.datetime.fromisoformat(target["body"]["occurred_at"])
    body = {
        "occurred_at": (at + dt.timedelta(minutes=rng.randint(-240, 240))).isoformat(),
        "location": {
            "type": "Point",
            "coordinates": [lon + rng.uniform(-0.02, 0.02), lat + rng.uniform(-0.02, 0.02)],
        },
        "violation_type": SAME_FAMILY[target["body"]["violation_type"]],
        "perpetrator": rng.choice(["Syrian Arab Army", "Free Syrian Army", "unknown gunmen"]),
        "casualties": HUGE if rng.random() < 0.7 else {"killed": rng.randint(0, 500)},
        "client_report_id": str(uuid.uuid4()),
        "incident_id": target["id"],
    }
    if kind in ("far", "mixed"):
        body["location"]["coordinates"] = list(rng.choice(FAR))
    if kind in ("old", "mixed"):
        body["occurred_at"] = (at - dt.timedelta(days=rng.randint(30, 330))).isoformat()
    if kind in ("type", "mixed"):
        body["violation_type"] = rng.choice(TYPES[target["body"]["violation_type"]])
    if kind == "unknown":
        body["incident_id"] = str(uuid.uuid4())
    return body, kind


def send(http: httpx.Client, method: str, url: str, **kwargs) -> httpx.Response:
    """Retry only what a client should retry (409 with Retry-After, 429, 503, lost answers):
    every body carries a client_report_id, so a retry never stores a report twice."""
    for _ in range(20):
        try:
            response = http.request(method, url, **kwargs)
        except httpx.TransportError:
            time.sleep(0.5)
            continue
        if response.status_code in (409, 429, 503):
            time.sleep(float(response.headers.get("retry-after", "0.5")))
            continue
        return response
    raise AssertionError(f"{method} {url} never got an answer")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    database_url = sibling_database_url("reliability_verified")
    prepare_database(database_url)
    keys = {
        "setup": create_key(database_url, "reporter", "setup reporter"),
        "verifier": create_key(database_url, "verifier", "verifier"),
        "attackers": [
            create_key(database_url, "reporter", f"attacker {n}") for n in range(REPORTERS)
        ],
    }
    server = LiveServer(
        database_url,
        workers=2,
        env={"CEASEFIRE_RATE_LIMIT_REQUESTS": "0"},  # about integrity, not limits
        log_path=tmp_path_factory.mktemp("reliability_verified") / "server.log",
    )
    server.start()
    yield server, keys, database_url
    server.stop()


def public_snapshot(http: httpx.Client, ids: set[str]) -> tuple[dict, dict]:
    """The public's figures of each incident (its feature's properties) and the public
    province statistics."""
    items = send(http, "GET", "/collections/incidents/items?limit=1000")
    assert items.status_code == 200, items.text
    features = {f["id"]: f["properties"] for f in items.json()["features"] if f["id"] in ids}
    stats = send(http, "GET", "/v1/stats/provinces")
    assert stats.status_code == 200, stats.text
    return features, {f["id"]: f["properties"] for f in stats.json()["features"]}


def published_rows(engine, ids: list[str]) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id::text, status, killed, injured, civilians_killed, report_count,"
                " occurred_at, ST_AsText(geom), violation_type, updated_at"
                " FROM incidents WHERE id::text = ANY(:ids)"
            ),
            {"ids": ids},
        ).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def test_verified_incidents_survive_an_attack_of_corroborations(service):
    server, keys, database_url = service
    rng = random.Random(9)  # noqa: S311 - test data, not secrets
    engine = create_engine(database_url)
    headers = {"Authorization": f"Bearer {keys['setup']}"}

    with httpx.Client(base_url=server.url, timeout=30) as http:
        bodies = [incident_body(rng, n) for n in range(INCIDENTS)]
        made = send(
            http, "POST", "/v1/reports/batch", json={"reports": bodies}, headers=headers
        ).json()
        assert made["accepted"] == INCIDENTS, made
        targets = [
            {"id": r["report"]["incident_id"], "body": body}
            for r, body in zip(made["results"], bodies, strict=True)
        ]
        verifier = {"Authorization": f"Bearer {keys['verifier']}"}
        for target in targets:
            reviewed = send(
                http,
                "POST",
                f"/v1/incidents/{target['id']}/review",
                json={"status": "verified", "note": "checked"},
                headers=verifier,
            )
            assert reviewed.status_code == 200, reviewed.text
        ids = {t["id"] for t in targets}
        features_before, stats_before = public_snapshot(http, ids)
        assert set(features_before) == ids
        rows_before = published_rows(engine, sorted(ids))

    # The attack: every report names a random verified incident (or an unknown one).
    attacks = []
    for n in range(ATTACKS):
        body, kind = attack_body(rng, rng.choice(targets))
        attacks.append((keys["attackers"][n % REPORTERS], body, kind))
    singles = attacks[: ATTACKS - BATCHES * BATCH_SIZE]
    rest = attacks[len(singles) :]
    batches = [rest[i : i + BATCH_SIZE] for i in range(0, len(rest), BATCH_SIZE)]
    answers: Counter = Counter()
    kinds: Counter = Counter()
    lock = threading.Lock()
    local = threading.local()

    opened: list[httpx.Client] = []

    def client() -> httpx.Client:
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=server.url, timeout=30)
            with lock:
                opened.append(local.http)
        return local.http

    def single(attack: tuple) -> None:
        secret, body, kind = attack
        response = send(
            client(),
            "POST",
            "/v1/reports",
            json=body,
            headers={"Authorization": f"Bearer {secret}"},
        )
        with lock:
            answers[response.status_code] += 1
            kinds[(kind, response.status_code)] += 1

    def batch(items: list[tuple]) -> None:
        # A batch is one key's: the first item's key sends them all.
        secret = items[0][0]
        response = send(
            client(),
            "POST",
            "/v1/reports/batch",
            json={"reports": [body for _, body, _ in items]},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert response.status_code == 200, response.text
        with lock:
            for (_, _, kind), result in zip(items, response.json()["results"], strict=True):
                answers[result["status"]] += 1
                kinds[(kind, result["status"])] += 1

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(batch, b) for b in batches]
        futures += [pool.submit(single, a) for a in singles]
        try:
            for future in futures:
                future.result()
        finally:
            for http in opened:
                http.close()
    elapsed = time.monotonic() - started
    print(f"\n{ATTACKS} attacks in {elapsed:.1f} s: answers {dict(answers)}")
    print("by kind:", dict(sorted(kinds.items())))

    assert sum(answers.values()) == ATTACKS
    assert set(answers) <= {201, 422}, answers  # no 5xx, nothing else
    assert answers[201] > 0 and answers[422] > 0
    # Every implausible kind was refused, and every plausible claim linked (held).
    assert all(status == 422 for (kind, status) in kinds if kind != "plausible")
    assert all(status == 201 for (kind, status) in kinds if kind == "plausible")

    with httpx.Client(base_url=server.url, timeout=30) as http:
        features_after, stats_after = public_snapshot(http, ids)
        verifier = {"Authorization": f"Bearer {keys['verifier']}"}
        queue = send(http, "GET", "/v1/incidents?pending_review=true&limit=1000", headers=verifier)
        assert queue.status_code == 200, queue.text
    rows_after = published_rows(engine, sorted(ids))
    altered = sum(
        1
        for iid in ids
        if features_after.get(iid) != features_before[iid] or rows_after[iid] != rows_before[iid]
    )
    print(f"verified incidents altered: {altered}")
    assert altered == 0
    assert stats_after == stats_before

    # Every attempt audited: a refusal, or a report held for a verifier's review.
    with engine.connect() as conn:
        audited = dict(
            conn.execute(
                text(
                    "SELECT e.action, count(*) FROM audit_events e"
                    " JOIN api_keys k ON k.id = e.actor_key_id"
                    " WHERE k.name LIKE 'attacker %' AND e.action IN"
                    " ('report.corroboration_refused', 'incident.corroboration_pending')"
                    " GROUP BY e.action"
                )
            ).all()
        )
        stored = conn.execute(
            text(
                "SELECT count(*) FROM reports r JOIN api_keys k ON k.id = r.reporter_key_id"
                " WHERE k.name LIKE 'attacker %'"
            )
        ).scalar_one()
    print(f"audited: {audited}")
    assert audited.get("report.corroboration_refused", 0) == answers[422]
    assert audited.get("incident.corroboration_pending", 0) == answers[201] == stored
    assert sum(audited.values()) == ATTACKS
    # The plausible claims wait in the verifiers' queue.
    held = {i["id"] for i in queue.json()["items"]}
    assert held and held <= ids
    engine.dispose()
