"""The data versions maps read and the theatre's time zone, read once per request: what
every map ETag is built from (``service/caching.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

# The data version bumped only when the public view of incidents changes (migration 0061).
PUBLIC_VERSION = "incidents_public"


@dataclass(frozen=True)
class DataState:
    """The versions of the data maps read, and the theatre's time zone: read once per
    request, before the data, so a response is never labelled newer than it is."""

    versions: str
    timezone: ZoneInfo

    def version(self, name: str) -> str:
        """One dataset's version (``areas``, ``incidents``)."""
        for part in self.versions.split(","):
            key, _, value = part.partition("=")
            if key == name:
                return value
        return ""

    def tag_versions(self, *, public: bool) -> str:
        """The versions an ETag of the public or of the full view depends on: each view
        leaves out the other's incidents version (``incidents_public`` moves only when a
        verified incident's public columns change; ``incidents`` on any write)."""
        other = "incidents" if public else PUBLIC_VERSION
        return ",".join(
            part for part in self.versions.split(",") if part.partition("=")[0] != other
        )


def data_state(*, session: Session) -> DataState:
    """The first read of a map request (its session reads without a transaction, each
    statement planned for its own values: ``service.db.read_without_transaction``).

    A dataset's version is the sum of its slots (migration 0120): every committed write
    adds to it, whatever order writers commit in, so two committed states never share one;
    read before the data, it is never newer than the data."""
    row = session.execute(
        text(
            "SELECT (SELECT string_agg(name || '=' || version, ',' ORDER BY name) FROM"
            " (SELECT name, sum(version) AS version FROM data_versions GROUP BY name) v)"
            " AS versions, theatre_timezone() AS tz"
        )
    ).one()
    return DataState(versions=row.versions or "", timezone=ZoneInfo(row.tz))
