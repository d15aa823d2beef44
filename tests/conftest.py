"""Shared fixtures: real PostgreSQL and SQLite databases, the real list files in ../shared/data.

Nothing is skipped when a service is missing: ``make test`` starts PostgreSQL and Redis first, and a fixture that
cannot reach them fails the run with the reason.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from kyc.settings import Settings
from kyc.storage.db import dispose_engines, get_engine, migrate
from tests.support.env import PG_ADMIN_URL

pytest_plugins = [
    "tests.support.fi_national",  # un_persons, good_rows: rows of the national template
    "tests.support.browser",  # chromium: Debian's Chromium driven by Playwright
]


def _worker() -> str:
    return re.sub(r"\W", "", os.environ.get("PYTEST_XDIST_WORKER", "main"))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A private PostgreSQL database for this test worker, migrated once."""
    name = f"kyc_test_{_worker()}_{os.getpid()}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {admin}: {exc}. Run `make test`, which starts it.")
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    yield url
    dispose_engines()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate(url: str, attempts: int = 5) -> None:
    """Empty every table the migrations created (not only those whose models this test imported).

    The audit tables' append-only triggers are skipped for this (``session_replication_role = replica``). A Celery
    task of the previous test may still be finishing against this database; when PostgreSQL resolves the
    resulting lock conflict by picking the TRUNCATE as the deadlock victim, the TRUNCATE is simply tried again.
    """
    for attempt in range(1, attempts + 1):
        try:
            with get_engine(url).begin() as conn:
                names = conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                    )
                ).scalars()
                tables = ", ".join(f'"{name}"' for name in names)
                if tables:
                    # The audit tables refuse TRUNCATE (append-only triggers); replica mode skips triggers.
                    conn.execute(text("SET LOCAL session_replication_role = replica"))
                    conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            return
        except OperationalError as exc:
            if not isinstance(exc.orig, psycopg.errors.DeadlockDetected) or attempt == attempts:
                raise
            time.sleep(0.2 * attempt)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs twice: on a fresh SQLite file and on a truncated PostgreSQL database."""
    if request.param == "sqlite":
        sqlite = f"sqlite:///{tmp_path / 'kyc.sqlite3'}"
        migrate(sqlite)
        return sqlite
    url: str = request.getfixturevalue("pg_url")
    _truncate(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'kyc.sqlite3'}"
    migrate(url)
    return url


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, fetch_retries=2, fetch_backoff_seconds=0.01, fetch_timeout_seconds=10)


@pytest.fixture(autouse=True)
def _own_checkpoint_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test writes and reads audit checkpoints in its own directory: checkpoints of another test's database
    would (rightly) look like a replaced chain."""
    from kyc.settings import get_settings

    monkeypatch.setenv("KYC_AUDIT_CHECKPOINT_DIR", str(tmp_path_factory.mktemp("audit-checkpoints")))
    # Built matchers are shared by the session's tests (an index key names the list versions' digests, so a
    # matcher is only reused over the same entries), never written into the repository's var/.
    monkeypatch.setenv("KYC_INDEX_DIR", str(tmp_path_factory.getbasetemp() / "matcher-index"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def encryption_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh Fernet key from the environment, as production reads it; caches cleared before and after."""
    from cryptography.fernet import Fernet

    from kyc import crypto
    from kyc.settings import get_settings

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("KYC_ENCRYPTION_KEY", key)
    get_settings.cache_clear()
    crypto.get_cipher.cache_clear()
    yield key
    get_settings.cache_clear()
    crypto.get_cipher.cache_clear()
