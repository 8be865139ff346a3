"""The console command: failures are one line on stderr and a non-zero exit status."""

import json

import pytest
from click.testing import CliRunner

from service.cli import main
from tests.boundary_files import feature, square, write_collection


@pytest.fixture
def run(engine):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_seed_is_idempotent_on_a_seeded_database(run):
    result = run("seed")
    assert result.exit_code == 0
    assert "0 rows written" in result.stdout


def test_the_exported_theatre_seeds_to_nothing_and_curation_runs_what_is_pending(run, tmp_path):
    path = tmp_path / "exported.toml"
    result = run("theatre", "export", str(path))
    assert result.exit_code == 0, result.stderr
    assert "[[parties]]" in path.read_text()
    result = run("seed", "--theatre-file", str(path))
    assert result.exit_code == 0
    assert "0 rows written" in result.stdout
    result = run("curation", "run")
    assert result.exit_code == 0
    assert result.stdout.strip() == "no curation job pending"


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("boundaries", "load", "/nonexistent.geojson", "--level", "1"), "no such file"),
        (("seed", "--theatre-file", "/nonexistent.toml"), "not found"),
        (("restore", "/nonexistent.dump"), "no such backup file"),
        (("theatre", "export", "--theatre-file", "/nonexistent.toml"), "not found"),
    ],
)
def test_failures_are_one_line_and_non_zero(run, args, reason):
    result = run(*args)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0] and lines[0].startswith("ceasefire: ")


def test_a_refused_boundary_file_loads_nothing(run, tmp_path, db):
    from sqlalchemy import text

    path = write_collection(
        tmp_path / "dup.geojson",
        [
            feature({"PCODE": "Q1", "NAME_EN": "A"}, square(40, 10)),
            feature({"PCODE": "Q1", "NAME_EN": "B"}, square(41, 10)),
        ],
    )
    result = run("boundaries", "load", str(path), "--level", "1")
    assert result.exit_code == 1 and "duplicate code 'Q1'" in result.stderr
    assert db.execute(text("SELECT count(*) FROM admin_areas WHERE pcode = 'Q1'")).scalar() == 0


def test_openapi_prints_the_document(run):
    result = run("openapi")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["info"]["title"] == "ceasefire-monitor"


def test_rollups_compact_folds_the_committed_deltas_and_says_so(run, engine):
    from sqlalchemy import text

    with engine.begin() as conn:  # a committed delta, as a writer's trigger appends one
        conn.execute(
            text(
                "INSERT INTO incident_rollup_deltas (day, province_pcode, status,"
                " ceasefire_status, violation_type, guarantors, perpetrator_party_id,"
                " target_party_id, confidence_band, incidents, killed, injured,"
                " civilians_killed) VALUES ('2001-01-01', 'XX', 'rejected', 'unknown',"
                " 'other', '{}', '', '', 'low', 0, 0, 0, 0)"
            )
        )
    result = run("rollups", "compact")
    assert result.exit_code == 0, result.stderr
    folded = int(result.stdout.split()[0])
    assert folded >= 1 and result.stdout.strip().endswith("folded, 0 left")
    with engine.connect() as conn:
        assert not conn.execute(text("SELECT count(*) FROM incident_rollup_deltas")).scalar()
