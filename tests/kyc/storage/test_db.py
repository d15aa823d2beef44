"""SQLite database files hold personal data: they are private to the service's user (they were created 0644)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from kyc import audit
from kyc.access import Principal, Role
from kyc.storage.db import dispose_engines, is_outage, migrate, transaction


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # what most shells and services run with: files 0644 unless the code says otherwise
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "kyc.sqlite3"
    url = f"sqlite:///{path}"
    migrate(url)
    with transaction(url) as session:
        audit.record(session, actor=Principal("u", "ann", Role.ANALYST), action="x", object_type="t", object_id="1")
    files = [p for p in path.parent.iterdir() if p.name.startswith("kyc.sqlite3")]
    assert {p.name for p in files} >= {"kyc.sqlite3", "kyc.sqlite3-wal", "kyc.sqlite3-shm"}
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert _mode(path.parent) == 0o700  # the folder did not exist: created private too
    dispose_engines()


def test_an_existing_readable_database_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)
    migrate(f"sqlite:///{path}")
    assert _mode(path) == 0o600
    dispose_engines()


def test_the_head_is_read_from_the_migration_files_as_alembic_reads_it(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from kyc.storage.db import alembic_config, at_head, head_revisions

    url = f"sqlite:///{tmp_path / 'head.sqlite3'}"
    assert head_revisions() == frozenset(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    assert not at_head(url)  # no schema yet: migrate must run
    migrate(url)
    assert at_head(url)
    migrate(url)  # at head: nothing to do, and no error
    dispose_engines()


def test_a_value_the_driver_cannot_send_is_no_outage_but_a_lost_server_is(pg_url: str) -> None:
    """A NUL in a text is refused by psycopg before it reaches PostgreSQL (no SQLSTATE): answered as a 503, a
    client would retry the same bad value for ever. A connection the server dropped is an outage."""
    with pytest.raises(DBAPIError) as refused, transaction(pg_url) as session:
        session.execute(text("SELECT :value"), {"value": "party\x00id"})
    assert getattr(refused.value.orig, "sqlstate", "") is None
    assert not is_outage(refused.value)

    with pytest.raises(DBAPIError) as dropped, transaction(pg_url) as session:
        session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
    assert is_outage(dropped.value)
