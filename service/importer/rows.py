"""What a source row becomes on its way in: a report to store, a refusal, or a deliberate skip.

Shared by the importers whose mappings are newer than UCDP's (``ucdp.py`` keeps its own
``Mapped``/``Refusal``, which expose the same ``source_id``). A mapping module stays pure: it
returns one of these and never touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.report.schemas import ReportCreate


@dataclass(frozen=True)
class Mapped:
    """A row as a report. ``version`` orders the revisions of one source row (ACLED's
    ``timestamp``): a row seen again with a higher version revises its report."""

    source_id: str
    report: ReportCreate
    version: int


@dataclass(frozen=True)
class Refusal:
    """A row that cannot be imported: ``reason`` is short and countable, ``detail`` names the
    values."""

    source_id: str
    reason: str
    detail: str


@dataclass(frozen=True)
class Skipped:
    """A readable row deliberately left out (e.g. not about a violation): counted, not an
    error."""

    source_id: str
    reason: str
    detail: str
