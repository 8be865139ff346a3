"""Settings from the environment (pydantic-settings).

Only deployment concerns live here. Facts about a theatre (time zone, ceasefire dates,
parties, guarantors) come from the theatre data file named by ``theatre_file``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
    # The npm packages `.ci/provision` installs (web/package-lock.json): /docs and /redoc
    # serve their scripts from here, so the pages load no file from another site.
    web_modules_dir: Path = PROJECT_ROOT / "web" / "node_modules"
    # The console's build (web/build.mjs, run by `.ci/provision`), served at /console/.
    console_dir: Path = PROJECT_ROOT / "web" / "dist" / "console"

    # Locating: a point outside every polygon but this close to one gets the nearest area.
    locate_max_distance_km: float = 5.0

    # Database pool: bounded so a dead database fails requests fast instead of hanging them.
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_pool_timeout_s: float = 5.0
    db_statement_timeout_ms: int = 15_000
    db_connect_timeout_s: int = 3
    # The database URL goes through a transaction-mode pooler (PgBouncer before 1.21): no
    # server-side prepared statements (psycopg's auto-prepare names would reach other
    # server connections) and no `options` startup parameter (PgBouncer refuses it: set
    # statement_timeout on the database instead, ALTER DATABASE ... SET). The scheduler
    # refuses to start with it: its session advisory locks need a direct connection.
    db_pooled: bool = False
    # A streaming replica for public and monitor map reads (OGC items, tiles, stats): every
    # write, and every read by reporters, verifiers and admins, stays on DATABASE_URL
    # (read-your-writes). Unset: everything reads the primary. docs/scaling.md.
    replica_url: str | None = None
    # After the replica refused a connection, map reads go to the primary this long.
    replica_retry_s: float = Field(default=5.0, ge=0)

    log_level: str = "INFO"

    # Corroboration: a report naming an incident_id (and a duplicate candidate) must lie this
    # close to the incident, in distance and in time, to be linked to it.
    corroboration_max_distance_km: float = Field(default=5.0, gt=0)
    corroboration_max_hours: float = Field(default=6.0, gt=0)
    # A report without an incident_id joins the best-scoring unverified candidate at or
    # above this score (``service.incident.correlation``); above 1: never automatically.
    correlation_threshold: float = Field(default=0.69, ge=0)

    # Every absolute link the service writes (paging, OGC and TileJSON links, Atom, Location)
    # starts with this URL (scheme, host, port and any path prefix); the request's Host
    # header is never used for links.
    public_base_url: str = "http://127.0.0.1:8000"
    # Host header values accepted, comma-separated ("*": any, the default, since no answer
    # depends on Host). Listing hosts refuses every other one with 400; the public base
    # URL's host is always accepted, and /healthz and /readyz accept any (probes use IPs).
    trusted_hosts: Annotated[list[str], NoDecode] = ["*"]

    # Slow clients. A request body must arrive completely within this time (else 408).
    body_timeout_s: float = Field(default=30.0, gt=0)
    # A connection must send a request's headers within this time of opening, or of the
    # end of its previous response, else it is closed (`ceasefire serve`).
    header_timeout_s: float = Field(default=10.0, gt=0)
    # An idle keep-alive connection is closed after this long (`ceasefire serve`).
    keep_alive_timeout_s: int = Field(default=5, ge=1)
    # Requests one client address may have in progress at once, per server process (429
    # beyond; 0: no bound). Behind a reverse proxy every client has the proxy's address:
    # bound there instead, or raise this.
    max_concurrent_per_client: int = Field(default=32, ge=0)
    # /readyz and /metrics use their own small connection pool and give up on the database
    # after this long, so they answer fast while the main pool is exhausted.
    health_db_timeout_s: float = Field(default=0.5, gt=0)

    # Reports: how far in the future a clock may be wrong, and the earliest plausible year.
    clock_skew_s: int = 300
    earliest_year: int = 1990

    # Request bodies: refused with 413 beyond these sizes, before they are read in full.
    max_body_bytes: int = 1_048_576
    max_batch_body_bytes: int = 8 * 1_048_576
    batch_max_items: int = 500
    # Idempotency keys are kept at least this long (field devices retry days later).
    idempotency_retention_days: int = 30

    # Per-key rate limit, shared by every worker through Redis.
    redis_url: str = "redis://127.0.0.1:6379/0"
    rate_limit_requests: int = 1200
    rate_limit_window_s: int = 60
    # Requests without a key, per client address and window (0: unlimited). The address is
    # the connection's peer: behind a reverse proxy every client shares the proxy's address,
    # so raise this there (forwarded headers are not trusted).
    rate_limit_anonymous_requests: int = Field(default=600, ge=0)
    # Failed authentications (unknown, revoked or malformed keys) per client address and
    # window; past it the address is refused with 429 before any key is looked up.
    rate_limit_auth_failures: int = Field(default=30, ge=0)
    # Counters live under this Redis prefix; by default the database's name, so deployments
    # (and test runs) that share a Redis but not a database never share counters.
    rate_limit_namespace: str | None = None
    # A verified key is remembered by each worker process for this long (0: never), so a
    # keyed request costs no key lookup. `ceasefire keys revoke` bumps a counter in Redis that
    # every request reads with its failure counter (same round trip): a revoked key is
    # refused at once. Only if Redis is unreachable, or a key is revoked behind the service's
    # back (SQL), is it accepted up to this long after its revocation.
    key_cache_s: float = Field(default=10.0, ge=0)

    # Requests whose path, query or a header value is longer than this are refused
    # (414 or 431) before any route runs.
    max_path_chars: int = Field(default=2048, ge=64)
    max_query_chars: int = Field(default=4096, ge=64)
    max_header_bytes: int = Field(default=8192, ge=256)

    # Daily digests: public by default (aggregates only); False restricts them to monitors.
    # Anonymous callers and reporter keys get the public view (verified incidents only,
    # small cells suppressed); monitors, verifiers and admins the full one.
    digests_public: bool = True
    # Small-number suppression (statistical disclosure control, after OCHA's Centre for
    # Humanitarian Data): a public digest figure about fewer than this many incidents is
    # withheld (null, "suppressed": true), with enough others that totals cannot give it
    # back. See service/digest/disclosure.py. 1 turns suppression off.
    public_min_count: int = Field(default=3, ge=1, le=100)
    # Days (ending yesterday, theatre time) rebuilt regularly so late reports show up.
    digest_rebuild_days: int = Field(default=7, ge=1, le=366)
    # The comparison baseline: the mean of this many days before the digest's day.
    digest_trailing_days: int = Field(default=7, ge=1, le=90)
    # The compliance measure's window (days ending on the digest's day).
    digest_compliance_days: int = Field(default=30, ge=1, le=366)
    digest_hotspots: int = Field(default=5, ge=1, le=50)
    # When yesterday's digest is built, in the theatre's time zone.
    digest_build_hour: int = Field(default=0, ge=0, le=23)
    digest_build_minute: int = Field(default=15, ge=0, le=59)
    digest_feed_entries: int = Field(default=50, ge=1, le=500)

    # Webhooks. Private, loopback and link-local callback addresses are refused (SSRF)
    # unless this is set (tests and single-host set-ups).
    webhook_allow_private: bool = False
    # The only ports callbacks may use (checked at subscription and at each delivery); JSON in
    # the environment, e.g. CEASEFIRE_WEBHOOK_ALLOWED_PORTS='[443]'. Independent of the
    # setting above: a single-host set-up with a receiver on 127.0.0.1:9000 sets both.
    webhook_allowed_ports: list[int] = Field(default=[80, 443], min_length=1)
    webhook_connect_timeout_s: float = 3.0
    webhook_timeout_s: float = 5.0
    webhook_max_attempts: int = Field(default=10, ge=1, le=50)
    # Delay before attempt n+1: base * 2**(n-1), at most the cap.
    webhook_backoff_base_s: float = Field(default=30.0, ge=0)
    webhook_backoff_max_s: float = Field(default=6 * 3600.0, ge=0)
    webhook_deliveries_per_run: int = Field(default=100, ge=1)

    # Subscription secrets are stored encrypted (Fernet) with this key: one or more
    # url-safe base64 Fernet keys separated by commas; the first encrypts, every one decrypts
    # (rotation: put the new key first, run `ceasefire subscriptions rotate-secrets`, then drop
    # the old one). Without it, the key is read from secrets_key_file; with neither,
    # subscriptions cannot be created (503) and deliveries fail until a key is set.
    secrets_key: SecretStr | None = None
    # Written by `make provision` (.ci/provision) when CEASEFIRE_SECRETS_KEY is unset and the
    # file is missing, so `make run` and `make test` work on a fresh machine. Gitignored.
    secrets_key_file: Path = PROJECT_ROOT / ".secrets-key"

    # The scheduler process (`ceasefire scheduler`).
    scheduler_deliver_interval_s: int = Field(default=5, ge=1)
    # How often the rollup deltas are folded in (readers are exact either way; folding
    # keeps the deltas they add short).
    scheduler_compact_interval_s: int = Field(default=10, ge=1)
    # A run missed by up to this much (scheduler down, machine asleep) still runs, once.
    scheduler_misfire_grace_s: int = Field(default=12 * 3600, ge=1)
    # job_runs older than this are purged daily (the deliverer alone runs every few seconds).
    scheduler_keep_runs_days: int = Field(default=14, ge=1)

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

    # Exports (/v1/exports): each holds a database connection and a transaction while it
    # streams, so at most this many run at once per server process (more: 503).
    export_max_concurrent: int = Field(default=4, ge=1)
    # Rows read per FETCH of an export's cursor (and written per step).
    export_chunk_rows: int = Field(default=1000, ge=1, le=100_000)
    # GeoPackages are written to a temporary file in this directory (the system's temporary
    # directory when unset) before they are sent: at most this many at once per process,
    # and none started, or continued, with less free space there than export_min_free_mb.
    export_gpkg_max_concurrent: int = Field(default=2, ge=1)
    export_dir: Path | None = None
    export_min_free_mb: int = Field(default=1024, ge=0)

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("public_base_url must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("public_base_url may not have a query or a fragment")
        return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))

    @field_validator("trusted_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [h.strip().lower() for h in value.split(",") if h.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str) -> str:
        return sqlalchemy_url(value)

    @field_validator("replica_url")
    @classmethod
    def _replica_driver(cls, value: str | None) -> str | None:
        return sqlalchemy_url(value) if value and value.strip() else None


@lru_cache
def get_settings() -> Settings:
    return Settings()
