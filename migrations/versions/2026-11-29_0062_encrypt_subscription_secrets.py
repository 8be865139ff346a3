"""Subscription secrets encrypted at rest: ``subscriptions.secret`` (plaintext) becomes
``secret_encrypted`` (a Fernet token under CEASEFIRE_SECRETS_KEY, or the key file).

Existing secrets are encrypted here with the first configured key. Without a key, the
migration succeeds only when there is nothing to encrypt (a fresh database); otherwise it
stops, changing nothing, and says which setting to give. The downgrade decrypts them back.

Revision ID: 0062
Revises: 0050
Create Date: 2026-11-29
"""

import re
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import Fernet, MultiFernet

from service.config import get_settings

revision: str = "0062"
down_revision: str | Sequence[str] | None = "0061"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fernet(count: int) -> MultiFernet:
    settings = get_settings()
    raw = settings.secrets_key.get_secret_value() if settings.secrets_key else ""
    if not raw.strip() and settings.secrets_key_file.is_file():
        raw = settings.secrets_key_file.read_text()
    keys = [k for k in re.split(r"[\s,]+", raw) if k]
    if not keys:
        raise RuntimeError(
            f"{count} stored webhook secret(s) need CEASEFIRE_SECRETS_KEY (one or more Fernet"
            f" keys) or the key file {settings.secrets_key_file}: set one and migrate again"
        )
    return MultiFernet([Fernet(k) for k in keys])


def _move_secrets(source: str, target: str, convert: Callable[[MultiFernet, str], str]) -> None:
    """Copy every stored secret from column ``source`` to a new column ``target`` through
    ``convert``, drop ``source``, and make the active-subscription check name ``target``."""
    op.add_column("subscriptions", sa.Column(target, sa.Text(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(f"SELECT id, {source} AS value FROM subscriptions WHERE {source} IS NOT NULL")
    ).all()
    if rows:
        fernet = _fernet(len(rows))
        for row in rows:
            bind.execute(
                sa.text(f"UPDATE subscriptions SET {target} = :value WHERE id = :id"),
                {"id": row.id, "value": convert(fernet, row.value)},
            )
    op.drop_constraint(op.f("ck_subscriptions_secret_while_active"), "subscriptions", type_="check")
    op.drop_column("subscriptions", source)
    op.create_check_constraint(
        op.f("ck_subscriptions_secret_while_active"),
        "subscriptions",
        f"(deleted_at IS NULL) = ({target} IS NOT NULL)",
    )


def upgrade() -> None:
    _move_secrets("secret", "secret_encrypted", lambda f, v: f.encrypt(v.encode()).decode())


def downgrade() -> None:
    _move_secrets("secret_encrypted", "secret", lambda f, v: f.decrypt(v.encode()).decode())
