"""Engine, sessions and migrations.

Every process (CLI, API, worker) opens the database through ``get_engine``; the schema is always created by
Alembic, never by ``create_all``, so SQLite and PostgreSQL run the same migrations. Engines hide statement
parameters in their exceptions (``hide_parameters``): a failed insert of a party would otherwise carry its name
and birth date into every log line and traceback that prints the error.
"""

from __future__ import annotations

import ast
import os
import random
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.orm import Session, sessionmaker

_MIGRATIONS = Path(__file__).parent / "migrations"
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database)
    return None


def _private_file(path: Path) -> None:
    """A SQLite database holds personal data: create it 0600 (in a 0700 folder when the folder is new) before SQLite
    would create it with the umask's 0644; SQLite gives its -wal and -shm files the database file's mode. An
    existing file of ours that others can read is tightened."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        status = path.stat()
        if status.st_uid == os.getuid() and stat.S_IMODE(status.st_mode) & 0o077:
            path.chmod(0o600)


def get_engine(url: str) -> Engine:
    url = normalise_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                database = _sqlite_file(url)
                if database is not None:
                    _private_file(database)  # before SQLite creates it with the umask's mode
                engine = create_engine(
                    url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
                )
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True)
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def session_factory(url: str) -> sessionmaker[Session]:
    from sqlalchemy.orm import sessionmaker  # the ORM only where sessions are used: not for a read of the index

    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def transaction(url: str) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception, always close."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


T = TypeVar("T")

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
"""PostgreSQL's ``deadlock_detected`` and ``serialization_failure``: the transaction was chosen as a victim and rolled
back whole, so running it again from the start is safe and almost always succeeds."""


def is_retryable_conflict(exc: BaseException) -> bool:
    """A transaction that lost a lock conflict (deadlock or serialisation) rather than one that is wrong."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


def is_outage(exc: BaseException) -> bool:
    """The database is unreachable or went away (refused, restarting, connection cut, pool exhausted): a fault of
    the moment that a later try can get past, as opposed to a statement that is wrong."""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return not is_retryable_conflict(exc)
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    # A driver error without a SQLSTATE never came from the server: the client's connection state broke (after a
    # server restart psycopg may report "can't change 'autocommit' now" or an unexpected result from BEGIN). A
    # value the driver cannot send (a NUL in a text) is a data error of its own: no retry would get it through.
    return not isinstance(exc, DataError) and getattr(exc.orig, "sqlstate", "") is None


def run_transaction(url: str, work: Callable[[Session], T], *, attempts: int = 4) -> T:
    """``work(session)`` in one transaction, run again from the start when PostgreSQL picks it as a deadlock
    victim. The lock order of the code paths is meant to rule deadlocks out; this covers the orders no one
    controls (two officers, a purge, a delta run) so that a lost race never reaches a client as an error."""
    for attempt in range(1, attempts + 1):
        try:
            with transaction(url) as session:
                return work(session)
        except DBAPIError as exc:
            if not is_retryable_conflict(exc) or attempt == attempts:
                raise
            time.sleep(random.uniform(0.005, 0.03) * attempt)  # both victims must not meet again at once
    raise AssertionError("unreachable")


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    """The newest migrations, read from the migration files' ``revision`` / ``down_revision`` assignments
    without importing Alembic (a second of start-up for every command that only reads)."""
    revisions: set[str] = set()
    replaced: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name, value = node.targets[0].id, node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                name, value = node.target.id, node.value
            else:
                continue
            if name == "revision":
                revisions.add(ast.literal_eval(value))
            elif name == "down_revision":
                down = ast.literal_eval(value)
                replaced.update(down if isinstance(down, tuple | list) else [down] if down else [])
    return frozenset(revisions - replaced)


def at_head(url: str) -> bool:
    """Whether the database's schema is at the newest migration (False when it has none yet)."""
    try:
        with get_engine(url).connect() as connection:
            current = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:
        return False
    return frozenset(current) == head_revisions()


def migrate(url: str) -> None:
    """Bring the schema to the newest migration; safe to call at every start (cheap when it is there already)."""
    if at_head(url):
        return
    from alembic import command

    config = alembic_config(url)
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
