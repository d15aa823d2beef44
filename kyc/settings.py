"""Typed settings, read from ``KYC_*`` environment variables (and a ``.env`` file when present).

Secrets (encryption key, webhook secret) only ever come from the environment; nothing here has a secret default
that could silently reach production.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


def _default_database_url() -> str:
    return f"sqlite:///{(VAR_DIR / 'kyc.sqlite3').resolve()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KYC_", env_file=".env", extra="ignore")

    database_url: str = Field(default_factory=_default_database_url)
    broker_url: str | None = None
    """Celery broker. None means the embedded broker used by ``make run`` (SQLite-backed, no Redis needed)."""

    # Ingestion
    shrink_threshold: float = 0.30
    """Reject a new version with more than this share fewer entries than the active one."""
    fetch_timeout_seconds: float = 60.0
    fetch_max_bytes: int = 256 * 1024 * 1024
    fetch_retries: int = 3
    fetch_backoff_seconds: float = 1.0
    source_urls: dict[str, str] = Field(default_factory=dict)
    """Per-source URL overrides, e.g. ``KYC_SOURCE_URLS='{"un_sc": "https://mirror.example/un.xml"}'``."""
    list_max_age_days: int = Field(30, ge=1)
    """A source is stale when its active version was published longer ago than this (``kyc lists status``)."""
    list_max_age_days_by_source: dict[str, int] = Field(
        default_factory=lambda: {"fi_national": 365, "everypolitician": 3650}
    )
    """Per-source limits overriding ``list_max_age_days`` (``KYC_LIST_MAX_AGE_DAYS_BY_SOURCE='{"un_sc": 14}'``):
    the national list changes rarely, EveryPolitician's archive not at all."""
    ingest_interval_minutes: int = 60
    ingest_sources: list[str] | None = None
    """Sources the scheduler polls (``KYC_INGEST_SOURCES='["un_sc","eu_fsf"]'``); None: every source with a URL."""

    # Security
    env: str = "development"
    """``production`` refuses to start without ``KYC_ENCRYPTION_KEY``; anything else may generate a local key."""
    api_docs: bool | None = None
    metrics_token: SecretStr | None = None
    """Bearer token a Prometheus scraper sends to ``GET /metrics``; unset, the endpoint refuses everyone. A token of
    its own (not a user's): it reads only operational figures and must never open personal data."""
    """Serve ``/docs`` and ``/openapi.json``; default: yes outside production, no in production."""
    encryption_key: SecretStr | None = None
    """Comma-separated Fernet keys, first = current (encrypts), the rest only decrypt (key rotation)."""
    blind_index_key: SecretStr | None = None
    """HMAC key for searchable personal-id lookups; derived from the oldest encryption key when unset."""
    encryption_key_file: Path = VAR_DIR / "encryption.key"
    """Where a non-production machine keeps its generated key (mode 0600)."""
    token_days_people: int = Field(30, ge=1, le=3650)
    """Lifetime of a bearer token of a person (every role but the systems'): renewed only by rotating it."""
    token_days_systems: int = Field(180, ge=1, le=3650)
    """Lifetime of a bearer token of a system (the onboarding flow, the screening API's clients)."""
    max_active_tokens: int = Field(3, ge=1, le=100)
    """Unexpired, unrevoked tokens one user may hold; minting beyond it is refused until one is revoked."""
    audit_key: SecretStr | None = None
    """HMAC keys of the audit chain and its checkpoints, comma-separated, first = current (signs new entries), the
    rest only verify older entries (rotation). Never stored in the database; required when ``env=production``."""
    audit_key_file: Path = VAR_DIR / "audit.key"
    """Where a non-production machine keeps its generated audit key (mode 0600)."""
    audit_checkpoint_dir: Path = VAR_DIR / "audit-checkpoints"
    """Where signed checkpoints of the audit chain are appended (``audit-checkpoints.jsonl``): a directory the
    database role cannot write, e.g. another host's mount or a file with the append-only attribute."""
    audit_checkpoint_minutes: int = 60
    """Beat: how often a checkpoint is written."""
    audit_syslog: str | None = None
    """Also send every checkpoint to syslog: a socket path (``/dev/log``) or ``udp://host:port``."""

    # Screening service
    retention_years: int = 5
    """Screening records are kept until the end of the customer relationship plus this many years (AML Act 3:3)."""
    purge_interval_minutes: int = 60
    sweep_interval_seconds: int = 10
    stale_job_seconds: int = 60
    """A queued job older than this (or running longer than ``running_timeout_seconds``) is re-enqueued."""
    running_timeout_seconds: int = 600
    """SQLite (no row locks to ask): a job ``running`` this long is taken to be abandoned."""
    orphaned_job_seconds: int = 10
    """PostgreSQL: a job ``running`` this long whose row no transaction holds lost its worker (killed, or its
    database connection cut by a restart) and is re-enqueued at the next sweep, seconds after the fault."""
    max_job_attempts: int = 5
    high_priority_score: float = 0.90
    """A sanctions hit at or above this score is flagged high priority for review."""
    webhook_secret: SecretStr | None = None
    """HMAC-SHA256 key for callback signatures (``KYC_WEBHOOK_SECRET``); without it no callback is sent."""
    webhook_timeout_seconds: float = 10.0
    """Wall-clock limit of one delivery attempt: connect, TLS, send and reading the (at most 4 KB) answer."""
    webhook_max_attempts: int = 8
    webhook_backoff_seconds: float = 2.0
    webhook_allow_http: bool = False
    """Only HTTPS callbacks unless this is set (local development and tests)."""
    webhook_allow_private_networks: bool = False
    """Allow callbacks to loopback, private, link-local and other non-public addresses (local development and
    tests only: otherwise a callback URL could reach the service's own network, e.g. a cloud metadata endpoint)."""
    max_persons: int = 50
    """Persons per screening request (422 above it)."""
    max_request_bytes: int = 256 * 1024
    """Largest request body the API reads (413 above it)."""

    # Review and monitoring
    four_eyes_score: float = 0.90
    """Dismissing a hit at or above this score (any list) needs a second officer, like any sanctions-list hit."""
    rescreen_days: dict[str, int] = Field(default_factory=lambda: {"high": 30, "medium": 180, "low": 365})
    """Full rescreen interval per customer risk (``KYC_RESCREEN_DAYS='{"high": 7, ...}'``)."""
    monitoring_interval_minutes: int = 5
    """Beat: how often due rescreens and unscreened list versions / matcher configurations are looked for."""
    monitoring_chunk_size: int = 2000
    """Customers per full-rescreen task: chunks spread over the worker processes."""
    case_sla_hours: dict[str, float] = Field(default_factory=lambda: {"high": 24.0, "normal": 72.0})
    """Hours a case may wait for its decision, per priority, from when it opened or reopened
    (``KYC_CASE_SLA_HOURS='{"high": 8, "normal": 48}'``); later it is overdue."""
    ownership_threshold: float = Field(0.5, gt=0, le=1)
    """Share of a customer that confirmed sanctioned beneficial owners together must hold for the customer to be
    treated as owned by listed persons (the EU "owned or controlled" and the OFAC 50% rule)."""

    # OpenSanctions-compatible API
    opensanctions_path: str = Field("/opensanctions", pattern=r"^(/[A-Za-z0-9._-]+)+$")
    """Base path of the yente-protocol API (``KYC_OPENSANCTIONS_PATH``): a client's host setting is the service URL
    plus this, e.g. ``https://kyc.example/opensanctions``."""

    # Workbench (browser sessions of people)
    ui_totp_roles: list[str] = Field(default_factory=lambda: ["approver", "senior_manager", "dpo", "admin"])
    """Roles that must log in to the workbench with a second factor (TOTP), e.g. ``KYC_UI_TOTP_ROLES='["admin"]'``."""
    ui_idle_minutes: int = Field(30, ge=1, le=24 * 60)
    """A workbench session ends after this long without a request."""
    ui_absolute_hours: float = Field(12, gt=0, le=7 * 24)
    """A workbench session ends this long after login, however active."""
    ui_backoff_after: int = Field(3, ge=1)
    """Failed logins of a user after which each further attempt must wait (doubling from ``ui_backoff_seconds``)."""
    ui_backoff_seconds: float = Field(1.0, ge=0, le=60)
    ui_lockout_after: int = Field(5, ge=1)
    """Consecutive failed logins that lock the account for ``ui_lockout_minutes``."""
    ui_lockout_minutes: float = Field(15, ge=0, le=7 * 24 * 60)
    ui_secure_cookies: bool | None = None
    """Cookies marked ``Secure``; by default everywhere but on localhost (plain http in development and tests)."""
    ui_default_language: str = "en"

    # Matching
    index_dir: Path = VAR_DIR / "index"
    """Where built matchers are kept, one directory per set of active list versions and matcher configuration,
    shared by the command line, the API and the workers of this machine (``kyc.index_store``)."""
    match_threshold: float = 0.80
    """Default alert threshold of the matcher (``kyc.matching.MatchConfig.threshold``)."""
    match_schema_thresholds: dict[str, float] = Field(default_factory=dict)
    """Per-schema overrides, e.g. ``KYC_MATCH_SCHEMA_THRESHOLDS='{"Person": 0.85}'``."""

    @field_validator("encryption_key", "blind_index_key", "webhook_secret", "audit_key", mode="before")
    @classmethod
    def _blank_secret_is_unset(cls, value: object) -> object:
        """``KYC_WEBHOOK_SECRET=`` (a compose default, an empty .env line) means "not set", never an empty key:
        an empty HMAC key would sign with nothing, and code that checks ``is None`` would half-configure itself."""
        if isinstance(value, str) and not value.strip():
            return None
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
