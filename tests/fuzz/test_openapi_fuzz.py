"""Schemathesis against a running server, driven by the committed openapi/openapi.json.

Every default check (no server errors, schema-conformant responses, negative data rejected,
unsupported methods answered 405 with Allow, created resources retrievable, auth not
ignored), once without a key and once with a key of each role. Bounded by examples per
operation so the whole run takes a few minutes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import LiveServer, create_key, prepare_database, sibling_database_url

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
ROLES = ("public", "reporter", "verifier", "monitor", "admin")
MAX_EXAMPLES = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    database_url = sibling_database_url("fuzz")
    prepare_database(database_url)
    keys = {
        role: create_key(database_url, role, f"fuzz {role}") for role in ROLES if role != "public"
    }
    live = LiveServer(
        database_url,
        workers=1,
        env={"CEASEFIRE_RATE_LIMIT_REQUESTS": "0", "CEASEFIRE_WEBHOOK_ALLOW_PRIVATE": "false"},
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
    summary = done.stdout[-6000:]
    assert done.returncode == 0, f"schemathesis found problems as {role}:\n{summary}"
