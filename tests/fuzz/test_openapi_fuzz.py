"""Schemathesis against a running server, driven by the committed openapi/openapi.json.

Every default check (no server errors, schema-conformant responses, negative data rejected,
unsupported methods answered 405 with Allow, created resources retrievable, auth not
ignored), once without a key and once with a key of each role. Then a hostile pass per role
(tests/fuzz/hostile_hooks.py): every case carries an extreme date, a year-10000 string, NUL
or another control character, or an over-long value in a path parameter, a query value or a
header, and the only check is that nothing answers 5xx. Bounded by examples per operation so
the whole run takes a few minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from service.audit.service import CONSOLE
from service.auth.service import create_key
from service.config import sqlalchemy_url
from tests.conftest import copy_of_template
from tests.live import LiveServer, sibling_database_url

# Starts a server: not in `make test-fast`; beside other tests in `make test` (own database,
# free port).
pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = {
    f"{method.upper()} {path}"
    for path, item in json.loads((ROOT / "openapi" / "openapi.json").read_text())["paths"].items()
    for method in item
}
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
ROLES = ("public", "reporter", "verifier", "monitor", "admin")
MAX_EXAMPLES = 20
HOSTILE_EXAMPLES = 12


def make_keys(database_url: str) -> dict[str, str]:
    """A key of each role but the public's: their secrets."""
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with Session(engine) as session:
            keys = {
                role: create_key(session=session, role=role, name=f"fuzz {role}", actor=CONSOLE)[1]
                for role in ROLES
                if role != "public"
            }
            session.commit()
    finally:
        engine.dispose()
    return keys


@pytest.fixture(scope="module")
def server(run_id, tmp_path_factory):
    # A copy of the run's migrated, seeded template and keys made in process: a console
    # subprocess per step cost each worker over a minute on a busy machine (the console
    # commands have tests of their own).
    database_url = sibling_database_url("fuzz")
    copy_of_template(database_url, run_id)
    keys = make_keys(database_url)
    live = LiveServer(
        database_url,
        workers=1,
        env={
            "CEASEFIRE_RATE_LIMIT_REQUESTS": "0",
            "CEASEFIRE_RATE_LIMIT_ANONYMOUS_REQUESTS": "0",
            "CEASEFIRE_RATE_LIMIT_AUTH_FAILURES": "0",
            "CEASEFIRE_WEBHOOK_ALLOW_PRIVATE": "false",
        },
        log_path=tmp_path_factory.mktemp("fuzz") / "server.log",
    )
    live.start()
    yield live, keys
    live.stop()


@pytest.mark.parametrize("role", ROLES)
def test_the_api_survives_fuzzing(server, role):
    live, keys = server
    args = [
        SCHEMATHESIS,
        "--config-file", str(ROOT / "tests" / "fuzz" / "schemathesis.toml"),
        "run", str(ROOT / "openapi" / "openapi.json"),
        "--url", live.url,
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", "20170123",
        "--workers", "1",  # hypothesis describes lambdas racily across threads
        "--request-timeout", "30",
        "--no-color",
    ]  # fmt: skip
    if role != "public":
        args += ["--header", f"Authorization: Bearer {keys[role]}"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, check=False)  # noqa: S603
    summary = done.stdout[-12000:]
    assert done.returncode == 0, f"schemathesis found problems as {role}:\n{summary}"


@pytest.mark.parametrize("role", ROLES)
def test_hostile_values_never_cause_a_server_error(server, role, tmp_path):
    live, keys = server
    calls = tmp_path / "calls.txt"
    args = [
        SCHEMATHESIS,
        "--config-file", str(ROOT / "tests" / "fuzz" / "schemathesis.toml"),
        "run", str(ROOT / "openapi" / "openapi.json"),
        "--url", live.url,
        "--checks", "not_a_server_error",
        "--phases", "fuzzing",
        "--mode", "positive",
        "--max-examples", str(HOSTILE_EXAMPLES),
        "--seed", "20161230",
        "--workers", "1",
        "--request-timeout", "30",
        "--no-color",
    ]  # fmt: skip
    if role != "public":
        args += ["--header", f"Authorization: Bearer {keys[role]}"]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.fuzz.hostile_hooks",
        "HOSTILE_CALLS_FILE": str(calls),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(  # noqa: S603
        args, capture_output=True, text=True, timeout=900, check=False, cwd=ROOT, env=env
    )
    summary = done.stdout[-12000:]
    assert done.returncode == 0, f"hostile values caused server errors as {role}:\n{summary}"
    # The hostile requests were really sent, to every operation, and refused with a 4xx.
    answers = [line.split(" ", 2) for line in calls.read_text().splitlines()]
    assert {f"{method} {path}" for _, method, path in answers} >= OPERATIONS
    statuses = Counter(int(status) for status, _, _ in answers)
    assert max(statuses) < 500, statuses
    assert sum(n for s, n in statuses.items() if s in (400, 414, 422, 431)) > len(answers) / 2
