"""Verified keys are remembered per process (``service/auth/keycache.py``): a revocation
through the service is honoured at once, by every worker; one behind its back (plain SQL)
within ``CEASEFIRE_KEY_CACHE_S``."""

import uuid

from sqlalchemy import text

from service.audit.service import CONSOLE
from service.auth import keycache, ratelimit
from service.auth.models import Role
from service.auth.service import Principal, hash_secret, revoke_key
from service.config import get_settings
from tests.http.report_helpers import assert_problem, auth

ITEMS = "/collections/incidents/items?limit=1"


def _revoke_by_sql(db, key_id) -> None:
    db.execute(text("UPDATE api_keys SET revoked_at = now() WHERE id = :id"), {"id": key_id})
    db.commit()


def test_a_key_revoked_through_the_service_is_refused_at_once(client, db, make_key):
    principal, secret = make_key("monitor")
    assert client.get(ITEMS, headers=auth(secret)).status_code == 200  # now cached
    revoke_key(session=db, key_id=principal.key_id, actor=CONSOLE, reason="laptop lost")
    db.commit()
    response = client.get(ITEMS, headers=auth(secret))
    assert "revoked" in assert_problem(response, 401)["detail"]


def test_another_workers_revocation_reaches_this_one_through_the_shared_counter(
    client, db, make_key
):
    """What ``revoke_key`` in another process does: the row revoked, the counter bumped
    (this process's own cache is not told)."""
    principal, secret = make_key("monitor")
    assert client.get(ITEMS, headers=auth(secret)).status_code == 200
    _revoke_by_sql(db, principal.key_id)
    assert ratelimit.bump(keycache.REVOCATIONS)
    assert_problem(client.get(ITEMS, headers=auth(secret)), 401)


def test_a_revocation_behind_the_services_back_holds_within_the_documented_bound(
    client, db, make_key, monkeypatch
):
    now = [1000.0]
    monkeypatch.setattr(keycache.CACHE, "clock", lambda: now[0])
    principal, secret = make_key("monitor")
    assert client.get(ITEMS, headers=auth(secret)).status_code == 200
    _revoke_by_sql(db, principal.key_id)
    # Remembered: no lookup sees the revoked row yet.
    assert client.get(ITEMS, headers=auth(secret)).status_code == 200
    now[0] += get_settings().key_cache_s
    assert_problem(client.get(ITEMS, headers=auth(secret)), 401)


def test_unknown_keys_are_never_remembered(client, db, make_key):
    principal, secret = make_key("monitor")
    _revoke_by_sql(db, principal.key_id)
    for _ in range(2):  # each failure is looked up again
        assert_problem(client.get(ITEMS, headers=auth(secret)), 401)
    assert keycache.CACHE.get(hash_secret(secret), None) is None


def test_the_cache_keeps_its_size_and_forgets_by_key():
    cache = keycache.KeyCache(max_entries=2, clock=lambda: 0.0)
    principals = [Principal(key_id=uuid.uuid4(), name=str(n), role=Role.monitor) for n in range(3)]
    for n, principal in enumerate(principals):
        cache.put(str(n), principal, b"1", ttl_s=10)
    assert cache.get("0", b"1") is None  # the least recently used went first
    assert cache.get("2", b"1") == principals[2]
    assert cache.get("2", b"2") is None  # the counter moved: verify again
    cache.put("1", principals[1], None, ttl_s=10)
    cache.forget(principals[1].key_id)
    assert cache.get("1", None) is None
