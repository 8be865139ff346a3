"""`ceasefire keys create | list | revoke`, inside the test transaction."""

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from service import db as db_module
from service.auth.service import authenticate
from service.cli import main


@pytest.fixture
def run(db, monkeypatch):
    """Run the CLI with its sessions inside the test's transaction."""
    factory = sessionmaker(
        bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    monkeypatch.setattr(db_module, "get_sessionmaker", lambda: factory)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args))

    return invoke


def test_create_prints_the_secret_alone_on_the_last_line(db, run):
    result = run("keys", "create", "--role", "reporter", "--name", "Idleb field team")
    assert result.exit_code == 0, result.output
    secret = result.output.rstrip("\n").splitlines()[-1]
    assert secret.startswith("cfm_") and " " not in secret
    found = authenticate(session=db, secret=secret)
    assert found.principal is not None and found.principal.role == "reporter"
    stored = db.execute(
        text("SELECT secret_hash, prefix FROM api_keys WHERE id = :id"),
        {"id": found.principal.key_id},
    ).one()
    assert secret not in (stored.secret_hash, stored.prefix)  # only a hash is kept
    event = db.execute(
        text("SELECT actor, actor_key_id, after FROM audit_events WHERE entity_id = :id"),
        {"id": str(found.principal.key_id)},
    ).one()
    assert (event.actor, event.actor_key_id) == ("console", None)
    assert event.after == {"name": "Idleb field team", "role": "reporter"}


def test_list_and_revoke(db, run):
    secret = run("keys", "create", "--role", "verifier", "--name", "V").output.splitlines()[-1]
    key_id = authenticate(session=db, secret=secret).principal.key_id
    listing = run("keys", "list")
    assert listing.exit_code == 0
    [line] = [row for row in listing.output.splitlines() if row.startswith(str(key_id))]
    assert line.split("\t")[1:2] == ["verifier"] and secret not in listing.output
    revoked = run("keys", "revoke", str(key_id), "--reason", "laptop stolen")
    assert revoked.exit_code == 0, revoked.output
    assert authenticate(session=db, secret=secret).revoked
    event = db.execute(
        text(
            "SELECT actor, reason, before, after FROM audit_events"
            " WHERE entity_id = :id AND action = 'key.revoked'"
        ),
        {"id": str(key_id)},
    ).one()
    assert (event.actor, event.reason, event.before) == (
        "console",
        "laptop stolen",
        {"revoked_at": None},
    )
    assert event.after["revoked_at"]
    again = run("keys", "revoke", str(key_id))
    assert again.exit_code == 1 and "already revoked" in again.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["keys", "revoke", "not-a-uuid"], "not a key id"),
        (["keys", "revoke", "00000000-0000-0000-0000-000000000000"], "no key"),
        (["keys", "create", "--role", "king", "--name", "x"], "king"),
        (["keys", "create", "--role", "admin", "--name", "   "], "name"),
    ],
)
def test_failures_are_one_line_and_exit_1(run, args, says):
    result = run(*args)
    assert result.exit_code != 0
    assert says in result.output
