"""`ceasefire subscriptions new-secrets-key | rotate-secrets`, inside the test transaction."""

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from service import db as db_module
from service.cli import main
from service.config import get_settings
from service.subscription import secret_store
from service.subscription.schemas import SubscriptionCreate
from service.subscription.service import create

SECRET = "a-long-enough-secret-for-hmac"  # noqa: S105 - a test subscription's secret


@pytest.fixture
def run(db, monkeypatch):
    factory = sessionmaker(
        bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    monkeypatch.setattr(db_module, "get_sessionmaker", lambda: factory)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args))


def stored(db, subscription_id) -> str:
    return db.execute(
        text("SELECT secret_encrypted FROM subscriptions WHERE id = :id"), {"id": subscription_id}
    ).scalar_one()


def test_a_new_key_is_put_first_and_every_secret_re_encrypted_with_it(
    db, run, make_key, monkeypatch
):
    settings = get_settings()
    monkeypatch.setattr(settings, "webhook_allow_private", True)
    result = run("subscriptions", "new-secrets-key")
    assert result.exit_code == 0, result.output
    new_key = result.output.strip()
    Fernet(new_key)  # a valid key
    old_key = secret_store.generate_key()
    monkeypatch.setattr(settings, "secrets_key", SecretStr(old_key))
    principal, _ = make_key("monitor", "monitor A")
    created, _ = create(
        session=db,
        principal=principal,
        subscription_in=SubscriptionCreate(callback_url="http://127.0.0.1/hook", secret=SECRET),
        settings=settings,
    )
    before = stored(db, created["id"])

    monkeypatch.setattr(settings, "secrets_key", SecretStr(f"{new_key}, {old_key}"))
    result = run("subscriptions", "rotate-secrets")
    assert result.exit_code == 0, result.output
    assert "re-encrypted" in result.output
    after = stored(db, created["id"])
    assert after != before
    monkeypatch.setattr(settings, "secrets_key", SecretStr(new_key))  # the old key dropped
    assert secret_store.unseal(after, settings) == SECRET

    monkeypatch.setattr(settings, "secrets_key", SecretStr(secret_store.generate_key()))
    result = run("subscriptions", "rotate-secrets")  # a key that decrypts nothing
    assert result.exit_code == 1
    assert "no configured key decrypts subscription" in result.output
    assert stored(db, created["id"]) == after
