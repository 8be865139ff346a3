"""`ceasefire digest build` and `backfill`: what an operator runs, against the test database.
The commands commit, so each test removes the revisions it built (audit events are
append-only and stay, in this session's throw-away database)."""

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from service.cli import main

FIRST, LAST = dt.date(2017, 8, 1), dt.date(2017, 8, 5)


@pytest.fixture
def runner(engine):
    yield CliRunner()
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM digest_revisions WHERE digest_date BETWEEN :first AND :last"),
            {"first": FIRST, "last": LAST},
        )


def test_build_writes_a_revision_once(runner, engine):
    first = runner.invoke(main, ["digest", "build", "--date", "2017-08-01"])
    assert first.exit_code == 0, first.output
    assert first.stdout == "2017-08-01: revision 1 written (first revision)\n"
    again = runner.invoke(main, ["digest", "build", "--date", "2017-08-01"])
    assert again.stdout == "2017-08-01: unchanged (revision 1)\n"
    with engine.connect() as conn:
        actor = conn.execute(
            text("SELECT actor FROM audit_events WHERE entity_id = '2017-08-01/1'")
        ).scalar_one()
    assert actor == "console"


def test_backfill_shows_progress_and_is_resumable(runner):
    result = runner.invoke(
        main,
        ["digest", "backfill", "--from", "2017-08-02", "--to", "2017-08-05", "--chunk-days", "3"],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "4 days: 4 new revisions, 0 unchanged\n"
    assert "digests: 100%" in result.stderr and "4/4" in result.stderr
    again = runner.invoke(
        main, ["digest", "backfill", "--from", "2017-08-02", "--to", "2017-08-05"]
    )
    assert again.stdout == "4 days: 0 new revisions, 4 unchanged\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "--date", "nope"], "--date: 'nope' is not a date (YYYY-MM-DD)"),
        (["build", "--date", "2016-12-01"], "before the ceasefire's first day"),
        (["build", "--date", "2999-01-01"], "has not ended yet in Asia/Damascus"),
        (["backfill", "--from", "2017-08-05", "--to", "2017-08-01"], "is after --to"),
    ],
)
def test_refusals_are_one_line(runner, args, message):
    result = runner.invoke(main, ["digest", *args])
    assert result.exit_code == 1
    assert result.stderr.startswith("ceasefire: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
