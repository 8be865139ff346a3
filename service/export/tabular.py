"""CSV of an export: a header of the view's column names, optionally the HXL hashtag row
under it (https://hxlstandard.org: a row of hashtags between the header and the data), then
one row per incident, written a chunk at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from service.export.columns import ExportColumn


def csv_bytes(
    columns: tuple[ExportColumn, ...], chunks: Iterable[list[tuple]], *, hxl: bool
) -> Iterator[bytes]:
    """The CSV's bytes (UTF-8, CRLF line ends as RFC 4180 says), one piece per chunk of rows:
    the header first, so a client sees the answer start before the first rows are read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def taken() -> bytes:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode()

    writer.writerow([c.name for c in columns])
    if hxl:
        writer.writerow([c.hxl for c in columns])
    yield taken()
    for rows in chunks:
        writer.writerows(rows)
        yield taken()
