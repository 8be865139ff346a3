"""Settings from the environment (pydantic-settings).

Only deployment concerns live here. Facts about a theatre (time zone, ceasefire dates,
parties, guarantors) come from the theatre data file named by ``theatre_file``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_THEATRE_FILE = Path(__file__).resolve().parent / "theatre" / "data" / "syria-2016.toml"


def sqlalchemy_url(url: str) -> str:
    """Accept a plain ``postgresql://`` URL and pick the driver the service uses (psycopg 3)."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CEASEFIRE_", extra="ignore")

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/ceasefire",
        validation_alias="DATABASE_URL",
    )
    data_dir: Path = PROJECT_ROOT.parent / "shared" / "data"
    theatre_file: Path = DEFAULT_THEATRE_FILE
    migrations_dir: Path = PROJECT_ROOT / "migrations"

    # Locating: a point outside every polygon but this close to one gets the nearest area.
    locate_max_distance_km: float = 5.0

    # Database pool: bounded so a dead database fails requests fast instead of hanging them.
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_pool_timeout_s: float = 5.0
    db_statement_timeout_ms: int = 15_000
    db_connect_timeout_s: int = 3

    log_level: str = "INFO"

    # Reports: how far in the future a clock may be wrong, and the earliest plausible year.
    clock_skew_s: int = 300
    earliest_year: int = 1990

    # Per-key rate limit, shared by every worker through Redis.
    redis_url: str = "redis://127.0.0.1:6379/0"
    rate_limit_requests: int = 1200
    rate_limit_window_s: int = 60

    # Maps. The public sees incidents at the centre of a grid cell of this size (degrees).
    public_cell_deg: float = Field(default=0.1, gt=0, le=10)
    map_limit_default: int = Field(default=100, ge=1)
    map_limit_max: int = Field(default=10_000, ge=1)
    # Vector tiles below this zoom carry grid cells with counts instead of points.
    tiles_point_min_zoom: int = Field(default=8, ge=0, le=22)
    tiles_max_zoom: int = Field(default=16, ge=0, le=22)
    # A point tile holding more incidents than this is served as cells instead.
    tiles_max_points: int = Field(default=20_000, ge=1)
    # How long shared caches may keep public map responses (authorised ones: revalidate).
    map_public_max_age_s: int = Field(default=60, ge=0)

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str) -> str:
        return sqlalchemy_url(value)


@lru_cache
def get_settings() -> Settings:
    return Settings()
