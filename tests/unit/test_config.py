import pytest

from service.config import Settings, sqlalchemy_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_plain_urls_get_the_service_driver(given, expected):
    assert sqlalchemy_url(given) == expected


def test_settings_read_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://someone@db:5433/other")
    monkeypatch.setenv("CEASEFIRE_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://someone@db:5433/other"
    assert settings.data_dir == tmp_path


def test_default_database_is_local_ceasefire(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert Settings().database_url.endswith("@127.0.0.1:5432/ceasefire")
