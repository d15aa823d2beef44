"""The sweeper's view of lost jobs: a ``running`` job whose worker is gone is found seconds later on PostgreSQL
(no transaction holds its row), while one a worker is screening right now is left alone however long it takes."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TypedDict

import pytest
from sqlalchemy import text, update

from kyc.screening import claim, lock_for_screening, stale_jobs
from kyc.storage.base import utcnow
from kyc.storage.db import transaction
from kyc.storage.jobs import ScreeningJob
from kyc.submission import CustomerSpec, JobSpec, PersonSpec, create_job

pytestmark = pytest.mark.usefixtures("encryption_key")


class Windows(TypedDict):
    queued_after: timedelta
    running_after: timedelta


WINDOWS: Windows = {"queued_after": timedelta(seconds=60), "running_after": timedelta(seconds=600)}


def _running_job(db_url: str, seconds_ago: int) -> str:
    spec = JobSpec(
        customer=CustomerSpec(name="Orpo Oy", country="FI", business_id="1572860-0"),
        persons=(PersonSpec("representative", "Matti Meikäläinen"),),
    )
    with transaction(db_url) as session:
        job, _ = create_job(session, spec, submitted_by="u1", idempotency_key="k1", retention_years=5)
        claim(session, job.id)
        job_id = job.id
    with transaction(db_url) as session:
        session.execute(
            update(ScreeningJob)
            .where(ScreeningJob.id == job_id)
            .values(updated_at=utcnow() - timedelta(seconds=seconds_ago))
        )
    return job_id


def _stale(db_url: str) -> list[str]:
    with transaction(db_url) as session:
        return stale_jobs(session, orphaned_after=timedelta(seconds=10), **WINDOWS)


def test_a_running_job_that_no_worker_holds_is_found_after_seconds_on_postgresql(db_url: str) -> None:
    job_id = _running_job(db_url, seconds_ago=30)
    if db_url.startswith("sqlite"):
        assert _stale(db_url) == []  # no row locks to ask: only the long running timeout counts
        with transaction(db_url) as session:
            assert stale_jobs(session, **WINDOWS, now=utcnow() + timedelta(seconds=600)) == [job_id]
        return
    assert _stale(db_url) == [job_id]


def test_a_job_being_screened_is_not_taken_however_long_it_runs(pg_url: str) -> None:
    with transaction(pg_url) as session:
        session.execute(text("DELETE FROM screening_jobs WHERE idempotency_key = 'k1' AND submitted_by = 'u1'"))
    job_id = _running_job(pg_url, seconds_ago=300)
    holding, release = threading.Event(), threading.Event()

    def worker() -> None:
        with transaction(pg_url) as session:
            assert lock_for_screening(session, job_id) is not None
            holding.set()
            release.wait(20)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert holding.wait(20)
        assert job_id not in _stale(pg_url)
    finally:
        release.set()
        thread.join(20)
    assert job_id in _stale(pg_url)  # the worker's transaction ended without completing it
