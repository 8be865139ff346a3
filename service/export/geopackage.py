"""A GeoPackage (OGC 12-128r18, version 1.3) of an export, written with Python's sqlite3.

Layers: ``incidents``, a point layer in EPSG:4326 of the incidents with a point (the
public's at the centre of their cell), always present (empty when nothing matched); and,
only when some incident has no point (located to a province only), ``incidents_without_point``,
a non-spatial ``attributes`` table with the same columns, so that the two hold every incident
of the export once, as the CSV does. Attribute types are the GeoPackage's (INTEGER, REAL,
TEXT, DATE, DATETIME); geometries are GeoPackage binary (header, then WKB). No spatial index
is written (optional; QGIS and ``ogr2ogr`` build one on request).

A GeoPackage cannot be streamed while it is written (SQLite writes pages out of order), so
the file is written to a temporary file first, then sent.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

from service.export.columns import ExportColumn

POINTS = "incidents"
WITHOUT_POINT = "incidents_without_point"
APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10300  # 1.3.0

_WGS84 = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)

_CORE = (
    """CREATE TABLE gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY,
        organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL,
        definition TEXT NOT NULL, description TEXT)""",
    """CREATE TABLE gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
        identifier TEXT UNIQUE, description TEXT DEFAULT '',
        last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE gpkg_geometry_columns (
        table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
        srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
        CONSTRAINT uk_gc_table_name UNIQUE (table_name),
        CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""",
)
_SPATIAL_REF_SYS = (
    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
    ("WGS 84 geodetic", 4326, "EPSG", 4326, _WGS84, "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
)  # fmt: skip


def _attributes(columns: tuple[ExportColumn, ...]) -> str:
    return ", ".join(f'"{c.name}" {c.kind}' for c in columns)


def write_geopackage(
    path: Path,
    columns: tuple[ExportColumn, ...],
    chunks: Iterable[list[tuple]],
    *,
    description: str,
    between_chunks: Callable[[], None] = lambda: None,
) -> dict[str, int]:
    """Write the rows of ``chunks`` (each row the columns' values, then the GeoPackage
    geometry or None) into a new GeoPackage at ``path``; ``between_chunks`` is called after
    each chunk (it may raise to stop: disk space). Returns the rows written per table."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in (
            f"application_id = {APPLICATION_ID}",
            f"user_version = {USER_VERSION}",
            "journal_mode = OFF",  # a new file: nothing to roll back to
            "synchronous = OFF",
            "cache_size = -16000",  # 16 MB
        ):
            db.execute(f"PRAGMA {pragma}")
        db.execute("BEGIN")
        for statement in _CORE:
            db.execute(statement)
        db.executemany(
            "INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", _SPATIAL_REF_SYS
        )
        names = ", ".join(f'"{c.name}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        db.execute(
            f"CREATE TABLE {POINTS} (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom POINT,"
            f" {_attributes(columns)})"
        )
        db.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)"
            " VALUES (?, 'features', ?, ?, 4326)",
            (POINTS, POINTS, description),
        )
        db.execute(
            "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', 'POINT', 4326, 0, 0)", (POINTS,)
        )
        insert_point = f"INSERT INTO {POINTS} (geom, {names}) VALUES (?, {marks})"
        insert_other = f"INSERT INTO {WITHOUT_POINT} ({names}) VALUES ({marks})"
        counts = {POINTS: 0, WITHOUT_POINT: 0}
        for rows in chunks:
            points = [(row[-1], *row[:-1]) for row in rows if row[-1] is not None]
            others = [row[:-1] for row in rows if row[-1] is None]
            db.executemany(insert_point, points)
            if others:
                if not counts[WITHOUT_POINT]:
                    _create_attributes_table(db, columns, description)
                db.executemany(insert_other, others)
            counts[POINTS] += len(points)
            counts[WITHOUT_POINT] += len(others)
            between_chunks()
        db.execute(
            f"""UPDATE gpkg_contents SET (min_x, min_y, max_x, max_y) =
                (SELECT min(longitude), min(latitude), max(longitude), max(latitude) FROM {POINTS})
                WHERE table_name = ?""",
            (POINTS,),
        )
        db.execute("COMMIT")
        return counts
    finally:
        db.close()


def _create_attributes_table(
    db: sqlite3.Connection, columns: tuple[ExportColumn, ...], description: str
) -> None:
    db.execute(
        f"CREATE TABLE {WITHOUT_POINT} (fid INTEGER PRIMARY KEY AUTOINCREMENT,"
        f" {_attributes(columns)})"
    )
    db.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description)"
        " VALUES (?, 'attributes', ?, ?)",
        (WITHOUT_POINT, WITHOUT_POINT, f"{description}: incidents located to a province only"),
    )
