"""Value types shared by request models and query parameters."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _rfc3339_text(value: object) -> object:
    # Pydantic would also read a number, or a numeric string, as Unix time; the API promises
    # RFC 3339 text with an offset only.
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError(
            "must be an RFC 3339 date-time with an offset, e.g. 2017-01-05T14:30:00+02:00"
        )
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]
