"""The theatre: the ceasefire being monitored, its time zone, dates and area of interest."""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry
from sqlalchemy import DateTime, String, Text
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base


class Theatre(Base):
    __tablename__ = "theatres"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64))
    ceasefire_start_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ceasefire_end_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Union of the level-1 areas, filled by the seed: reports outside it are refused.
    aoi = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False))
    # The data sources and their licences (the theatre file's [[sources]]), attributed by
    # TileJSON, the OGC landing page and the collections.
    sources: Mapped[list] = mapped_column(JSONB, server_default=sql_text("'[]'::jsonb"))
