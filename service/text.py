"""Name normalisation shared by every lookup that matches human-written names."""

from __future__ import annotations

import unicodedata
from functools import lru_cache


# Pure and hot: every actor, alias and province name of every report goes through it, and a
# batch repeats the same few hundred names.
@lru_cache(maxsize=65_536)
def normalise_name(value: str) -> str:
    """Case-, accent- and punctuation-insensitive key for a name.

    "Hay'at Tahrir al-Sham", "HAYAT TAHRIR AL SHAM" and "Hayat Tahrir al-Sham" share one key;
    Arabic diacritics and hamza carriers are folded the same way (NFKD, combining marks
    dropped). Only letters and digits remain.
    """
    decomposed = unicodedata.normalize("NFKD", value)
    kept = (ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch for ch in "".join(kept).casefold() if ch.isalnum())


def normalise_sql(column: str) -> str:
    """The SQL twin of ``normalise_name`` over ``column`` (NFKD, lower case, letters and
    digits only). Close, not identical (``lower`` is not ``casefold``): use it to find
    candidate rows, and decide in Python."""
    return f"regexp_replace(lower(normalize({column}, NFKD)), '[^[:alnum:]]+', '', 'g')"
