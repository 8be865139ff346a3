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
from collections.abc import Sequence

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


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("secret_encrypted", sa.Text(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, secret FROM subscriptions WHERE secret IS NOT NULL")
    ).all()
    if rows:
        fernet = _fernet(len(rows))
        for row in rows:
            bind.execute(
                sa.text("UPDATE subscriptions SET secret_encrypted = :token WHERE id = :id"),
                {"id": row.id, "token": fernet.encrypt(row.secret.encode()).decode()},
            )
    op.drop_constraint(op.f("ck_subscriptions_secret_while_active"), "subscriptions", type_="check")
    op.drop_column("subscriptions", "secret")
    op.create_check_constraint(
        op.f("ck_subscriptions_secret_while_active"),
        "subscriptions",
        "(deleted_at IS NULL) = (secret_encrypted IS NOT NULL)",
    )


def downgrade() -> None:
    op.add_column("subscriptions", sa.Column("secret", sa.Text(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, secret_encrypted FROM subscriptions WHERE secret_encrypted IS NOT NULL")
    ).all()
    if rows:
        fernet = _fernet(len(rows))
        for row in rows:
            bind.execute(
                sa.text("UPDATE subscriptions SET secret = :secret WHERE id = :id"),
                {"id": row.id, "secret": fernet.decrypt(row.secret_encrypted.encode()).decode()},
            )
    op.drop_constraint(op.f("ck_subscriptions_secret_while_active"), "subscriptions", type_="check")
    op.drop_column("subscriptions", "secret_encrypted")
    op.create_check_constraint(
        op.f("ck_subscriptions_secret_while_active"),
        "subscriptions",
        "(deleted_at IS NULL) = (secret IS NOT NULL)",
    )
