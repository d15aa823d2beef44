"""Shared pieces of the service tests: a real Celery worker on the real Redis, users, valid identity codes.

The worker consumes from a queue private to this test process on a dedicated Redis database, so parallel test
workers (pytest-xdist) and other suites never see each other's messages.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from celery.worker import state as worker_state
from sqlalchemy import select

from kyc.access import Role, create_user
from kyc.matcher_cache import matcher_cache
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.storage.jobs import ScreeningJob
from tests.support.env import REDIS_URL
from workers.app import app, configure, use_settings

UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"
WEBHOOK_SECRET = "test-webhook-secret-not-for-production"
QUEUE = f"kyc-test-{os.getpid()}"
_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def redis_broker_url() -> str:
    """The test Redis on database 12 (the suite's other users stay on the database they were given)."""
    return re.sub(r"/\d+$", "", REDIS_URL.rstrip("/")) + "/12"


def service_settings(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "broker_url": redis_broker_url(),
        "webhook_secret": WEBHOOK_SECRET,
        "webhook_allow_http": True,
        "webhook_allow_private_networks": True,  # test receivers listen on 127.0.0.1
        "webhook_backoff_seconds": 0.2,
        "webhook_timeout_seconds": 5,
        "stale_job_seconds": 0,
        "fetch_retries": 1,
        "fetch_timeout_seconds": 10,
    }
    values.update(overrides)
    return Settings(**values)


def hetu(born: date, sign: str, individual: int = 123) -> str:
    """A valid henkilötunnus for ``born`` with the given century sign (checksum per the DVV rules)."""
    base = f"{born:%d%m%y}{individual:03d}"
    return f"{born:%d%m%y}{sign}{individual:03d}{_CHECK[int(base) % 31]}"


def make_token(db_url: str, role: Role, name: str | None = None) -> str:
    with transaction(db_url) as session:
        _principal, token = create_user(session, name or f"{role.value}-{time.monotonic_ns()}", role)
    return token


def wait_for(db_url: str, job_id: str, statuses: tuple[str, ...] = ("completed", "failed"), timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        with transaction(db_url) as session:
            status = session.execute(select(ScreeningJob.status).where(ScreeningJob.id == job_id)).scalar_one()
        if status in statuses:
            return status
        time.sleep(0.05)
    pytest.fail(f"job {job_id} still {status!r} after {timeout} s")


def wait_until(predicate: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"{what} not reached within {timeout} s\n{_thread_stacks()}")


def _thread_stacks() -> str:
    """Where every thread is: a stuck worker task is then visible in the failure message."""
    import sys
    import threading
    import traceback

    names = {t.ident: t.name for t in threading.enumerate()}
    return "\n".join(
        f"--- thread {names.get(ident, ident)}\n" + "".join(traceback.format_stack(frame)[-8:])
        for ident, frame in sys._current_frames().items()
    )


_worker: dict[str, Any] = {}


def _start_worker_once() -> Any:
    """One worker per test process, however many modules bind the fixture under their own name.

    (A fixture imported into two modules is two session fixtures to pytest; two workers consuming one queue in one
    process then steal each other's delayed retries.) The worker thread is a daemon: it ends with the process.
    """
    if "worker" not in _worker:
        configure(
            Settings(broker_url=redis_broker_url()),
            task_default_queue=QUEUE,
            broker_transport_options={"visibility_timeout": 60, "global_keyprefix": f"{QUEUE}:"},
        )
        with app.connection_for_write() as conn:
            conn.default_channel.client.ping()  # fail fast, with the reason, when Redis is down
        context = start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30)
        _worker["worker"] = context.__enter__()
        _worker["context"] = context
    return _worker["worker"]


@pytest.fixture(scope="session")
def celery_worker() -> Iterator[Any]:
    """A real Celery worker (thread pool) consuming the real Redis broker, for the whole test session."""
    yield _start_worker_once()
    use_settings(None)


@pytest.fixture
def service(db_url: str, celery_worker: Any) -> Iterator[Settings]:
    """Settings for one test's database, installed for the running worker's tasks."""
    settings = service_settings(db_url)
    use_settings(settings)
    matcher_cache.clear()
    yield settings
    _wait_idle()
    matcher_cache.clear()


def _wait_idle(timeout: float = 30) -> None:
    """Let the worker finish what this test started before the next test empties the database under it.

    A task still running against this test's database would otherwise race the next test's TRUNCATE (PostgreSQL
    then picks one of them as a deadlock victim) or write into a database being reset. Best effort: a test that
    leaves a task stuck longer than ``timeout`` fails on its own assertions, not here.
    """
    deadline = time.monotonic() + timeout
    while worker_state.active_requests and time.monotonic() < deadline:
        time.sleep(0.05)


def business_id(number: int) -> str:
    """A valid Finnish Y-tunnus built from ``number`` (seven digits; its check digit per the PRH rules), skipping
    the numbers that have no valid check digit."""
    while True:
        digits = f"{number % 10_000_000:07d}"
        remainder = sum(int(d) * w for d, w in zip(digits, (7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
        if remainder != 1:
            return f"{digits}-{0 if remainder == 0 else 11 - remainder}"
        number += 1
