"""Verified keys remembered in each worker process, so a keyed request costs no key lookup.

A map request with a key paid a database round trip to verify it (about a tenth of a
single item's time at concurrency 1, more under load). The cache holds only keys that were
found valid, by the SHA-256 of the secret (the digest already stored in ``api_keys``; the
secret itself is never kept), for ``CEASEFIRE_KEY_CACHE_S`` seconds at most.

Revocation: ``revoke_key`` bumps the shared counter ``keys-revoked`` in Redis once its
transaction commits (and forgets the key in its own process). Every keyed request reads that
counter with its address's failure counter, in the one Redis round trip it already made;
an entry remembered under another value of the counter is verified again. So a revoked key
is refused by every worker at once. The bound: with Redis unreachable, or a key revoked by
plain SQL, a worker may accept the key until its entry expires (``key_cache_s``). Unknown
and revoked keys are never cached: every failure is looked up and counted.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.orm import Session

from service.auth import ratelimit
from service.auth.service import KeyLookup, Principal, authenticate, hash_secret
from service.config import get_settings

REVOCATIONS = "keys-revoked"
MAX_ENTRIES = 1024


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    revocations: bytes | None  # the shared counter's value when the key was verified
    expires: float


class KeyCache:
    """A small LRU of verified keys, safe across threads."""

    def __init__(
        self, *, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str, revocations: bytes | None) -> Principal | None:
        """The principal verified under ``digest``, unless its entry expired or a key was
        revoked since (the counter moved). An unknown counter (Redis unreachable) leaves
        only the expiry to bound a revocation."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            moved = revocations is not None and revocations != entry.revocations
            if moved or entry.expires <= self.clock():
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return entry.principal

    def put(
        self, digest: str, principal: Principal, revocations: bytes | None, ttl_s: float
    ) -> None:
        if ttl_s <= 0:
            return
        with self._lock:
            self._entries[digest] = _Entry(principal, revocations, self.clock() + ttl_s)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, key_id: uuid.UUID) -> None:
        with self._lock:
            for digest in [d for d, e in self._entries.items() if e.principal.key_id == key_id]:
                del self._entries[digest]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


CACHE = KeyCache()


def verify(*, session: Session, secret: str, revocations: bytes | None) -> KeyLookup:
    """``authenticate``, answered from this process's cache when it may be."""
    digest = hash_secret(secret)
    principal = CACHE.get(digest, revocations)
    if principal is not None:
        return KeyLookup(principal=principal, revoked=False)
    found = authenticate(session=session, secret=secret)
    if found.principal is not None:
        CACHE.put(digest, found.principal, revocations, get_settings().key_cache_s)
    return found


def announce_revocation(session: Session, key_id: uuid.UUID) -> None:
    """Make every worker verify cached keys again once ``session`` commits (and now: the
    bump after the commit is what closes the race with a request verifying meanwhile)."""

    def revoked(_session: Session | None = None) -> None:
        CACHE.forget(key_id)
        ratelimit.bump(REVOCATIONS)

    revoked()
    event.listen(session, "after_commit", revoked, once=True)
