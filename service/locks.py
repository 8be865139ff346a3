"""PostgreSQL advisory lock keys, named in one place so that no two uses collide."""

from __future__ import annotations

import zlib

# First half of every two-int advisory key the service takes ("cfmn").
NAMESPACE = 0x63666D6E

# Held (per transaction) while digests are built and stored: builders take turns.
DIGEST_BUILD = "digest.build"


def advisory_key(name: str) -> tuple[int, int]:
    """The (namespace, key) pair for ``pg_advisory_lock(int, int)``: a stable 32-bit CRC."""
    value = zlib.crc32(name.encode())
    return NAMESPACE, value - (1 << 32) if value >= (1 << 31) else value


# Held (per transaction) by each curation act of the party directory: acts take turns, so
# an alias's or a coalition's name is checked and written by one act at a time.
PARTY_CURATION = "party.curation"
