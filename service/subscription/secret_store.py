"""Subscription secrets at rest: encrypted with Fernet (AES-128-CBC and HMAC-SHA256, from
``cryptography``) under a key from the environment, so a database dump, a backup or a
read-only SQL injection does not hand out the keys that sign deliveries.

Keys come from ``CEASEFIRE_SECRETS_KEY`` (or the key file, see ``Settings.secrets_key_file``):
several comma-separated keys allow rotation, the first encrypting and every one decrypting.
"""

from __future__ import annotations

import re
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.config import Settings
from service.errors import Unavailable


class SecretsKeyMissing(Unavailable):
    """No (valid) key to encrypt or decrypt subscription secrets is configured."""


class SecretUnreadable(Unavailable):
    """A stored secret cannot be decrypted with any configured key."""


def key_text(settings: Settings) -> str:
    """The configured key(s), from the environment or else the key file; '' when none."""
    if settings.secrets_key is not None and settings.secrets_key.get_secret_value().strip():
        return settings.secrets_key.get_secret_value()
    try:
        return settings.secrets_key_file.read_text()
    except FileNotFoundError:
        return ""


@lru_cache(maxsize=8)
def _box(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def box(settings: Settings) -> MultiFernet:
    keys = tuple(k for k in re.split(r"[\s,]+", key_text(settings)) if k)
    if not keys:
        raise SecretsKeyMissing(
            "no key to encrypt subscription secrets is configured: set CEASEFIRE_SECRETS_KEY"
            " (or run `make provision` for a local key file)"
        )
    try:
        return _box(keys)
    except ValueError as exc:  # not 32 url-safe base64-encoded bytes
        raise SecretsKeyMissing(
            "CEASEFIRE_SECRETS_KEY is not a list of Fernet keys (url-safe base64 of 32 bytes)"
        ) from exc


def generate_key() -> str:
    return Fernet.generate_key().decode()


def seal(secret: str, settings: Settings) -> str:
    return box(settings).encrypt(secret.encode()).decode()


def unseal(token: str, settings: Settings) -> str:
    try:
        return box(settings).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("no configured key decrypts the subscription's secret") from exc


def rotate(*, session: Session, settings: Settings) -> int:
    """Re-encrypt every stored secret with the first key; how many were. Caller commits."""
    fernet = box(settings)
    rows = session.execute(
        text(
            "SELECT id, secret_encrypted FROM subscriptions"
            " WHERE secret_encrypted IS NOT NULL FOR UPDATE"
        )
    ).all()
    for row in rows:
        try:
            rotated = fernet.rotate(row.secret_encrypted.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable(f"no configured key decrypts subscription {row.id}") from exc
        session.execute(
            text("UPDATE subscriptions SET secret_encrypted = :token WHERE id = :id"),
            {"id": row.id, "token": rotated},
        )
    return len(rows)
