"""The event is written once: its columns, its read schema and the imports around them."""

from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from service.event.models import CASUALTY_COLUMNS, EVENT_COLUMNS, FACT_COLUMNS
from service.event.reads import event_select
from service.event.schemas import EventRead
from service.incident.models import Incident
from service.incident.schemas import IncidentRead
from service.report.models import Report
from service.report.schemas import ReportRead

SERVICE = Path(__file__).resolve().parents[2] / "service"


def _imports(package: str) -> set[str]:
    """The modules imported anywhere in ``service/<package>``."""
    found: set[str] = set()
    for path in (SERVICE / package).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
    return found


def test_both_tables_carry_every_event_column_and_facts_and_figures_make_the_whole():
    for table in (Report.__table__, Incident.__table__):
        assert set(EVENT_COLUMNS) <= set(table.columns.keys())
    assert set(FACT_COLUMNS) | set(CASUALTY_COLUMNS) == set(EVENT_COLUMNS)
    assert not set(FACT_COLUMNS) & set(CASUALTY_COLUMNS)


def test_the_read_sql_selects_every_event_column():
    for table in (Report.__table__.alias("e"), Incident.__table__.alias("e")):
        sql = str(select(*event_select(table)).compile(dialect=postgresql.dialect()))
        for column in EVENT_COLUMNS:
            assert f"e.{column}" in sql or f"(e.{column})" in sql


def test_reports_and_incidents_extend_the_one_event_schema_in_place():
    for model in (ReportRead, IncidentRead):
        assert issubclass(model, EventRead)
        fields = list(model.model_fields)
        event = list(EventRead.model_fields)
        start = fields.index(event[0])
        # The event's fields stay one block, after the model's identity (the order the API
        # has always shown).
        assert fields[start : start + len(event)] == event
        assert fields[0] == "id"


def test_the_event_package_imports_no_higher_layer_and_incidents_do_not_import_reports():
    higher = ("service.incident", "service.report", "service.stats", "service.ogc", "service.tiles")
    assert not {m for m in _imports("event") if m.startswith(higher)}
    assert not {m for m in _imports("incident") if m.startswith("service.report")}
