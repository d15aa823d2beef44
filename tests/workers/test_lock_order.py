"""One lock order between submissions and the worker, on real PostgreSQL: a company resubmitted while the worker
completes its previous job never deadlocks, and a deadlock that does happen is run again, not answered with an
error."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, text

from kyc.access import Principal, Role
from kyc.settings import Settings
from kyc.storage.db import get_engine, run_transaction, transaction
from kyc.storage.jobs import ScreeningJob
from kyc.submission import CustomerSpec, JobSpec, PersonSpec, submit
from lists.ingest import ingest_files
from tests.support.env import list_file
from tests.support.service import UN_2026
from workers.tasks import run_screening

pytestmark = pytest.mark.usefixtures("encryption_key")


class DeadlockCounter:
    """Every ``DeadlockDetected`` the engine saw, whether or not something retried it afterwards."""

    def __init__(self, url: str) -> None:
        self.engine = get_engine(url)
        self.count = 0

    def _seen(self, context: Any) -> None:
        if isinstance(context.original_exception, psycopg.errors.DeadlockDetected):
            self.count += 1

    def __enter__(self) -> DeadlockCounter:
        event.listen(self.engine, "handle_error", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "handle_error", self._seen)


@pytest.fixture
def pg_settings(pg_url: str) -> Iterator[Settings]:
    settings = Settings(database_url=pg_url, retention_years=5)
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    yield settings


def _spec(business_id: str, n: int) -> JobSpec:
    return JobSpec(
        customer=CustomerSpec(name=f"Lukitus {n} Oy", country="FI", business_id=business_id),
        persons=(
            PersonSpec("representative", "Matti Meikäläinen", birth_date="1980-05-17"),
            PersonSpec("beneficial_owner", "Emraan Ali", birth_date="1967-07-04", ownership=0.5),
        ),
    )


@pytest.mark.slow
def test_resubmitting_a_company_while_its_job_completes_never_deadlocks(pg_settings: Settings) -> None:
    """The worker completes job n (customer, then job) while job n+1 of the same company is submitted 10-30 ms
    later (customer, then the customer's jobs): with two lock orders this deadlocked in about half the tries."""
    principal = Principal(user_id=f"client-{uuid.uuid4().hex[:8]}", name="onboarding", role=Role.ONBOARDING)
    business_id = "1572860-0"
    rounds = 25
    errors: list[str] = []
    with DeadlockCounter(pg_settings.database_url) as deadlocks:
        previous = submit(pg_settings, _spec(business_id, 0), principal, uuid.uuid4().hex).id
        for n in range(1, rounds + 1):
            screened = threading.Thread(target=lambda job=previous: _screen(pg_settings, job, errors))
            screened.start()
            time.sleep(0.01 + 0.02 * (n % 3) / 2)
            try:
                previous = submit(pg_settings, _spec(business_id, n), principal, uuid.uuid4().hex).id
            except Exception as exc:
                errors.append(f"submit: {type(exc).__name__}")
            screened.join(30)
        _screen(pg_settings, previous, errors)
    assert errors == []
    assert deadlocks.count == 0
    with transaction(pg_settings.database_url) as session:
        statuses = session.execute(
            text("SELECT status, count(*) FROM screening_jobs WHERE submitted_by = :who GROUP BY status"),
            {"who": principal.user_id},
        ).all()
    assert dict(statuses) == {"completed": rounds + 1}  # type: ignore[arg-type]


def _screen(settings: Settings, job_id: str, errors: list[str]) -> None:
    try:
        result = run_screening(settings, job_id)
        if result.get("status") != "completed":
            errors.append(f"screen: {result}")
    except Exception as exc:
        errors.append(f"screen: {type(exc).__name__}")


@pytest.mark.slow
def test_a_transaction_chosen_as_deadlock_victim_is_run_again(pg_settings: Settings) -> None:
    """Two transactions lock two rows in opposite orders: PostgreSQL rolls one back, and ``run_transaction`` runs
    it again from the start, so both commit."""
    url = pg_settings.database_url
    ids = []
    for n in range(2):
        accepted = submit(
            pg_settings,
            _spec(f"000000{n}-{n}", n),
            Principal(user_id="deadlock-test", name="x", role=Role.ONBOARDING),
            uuid.uuid4().hex,
        )
        ids.append(accepted.id)
    both_hold_one = threading.Barrier(2, timeout=10)
    attempts = {"a": 0, "b": 0}
    errors: list[str] = []

    def work(name: str, first: str, second: str) -> None:
        def body(session: Any) -> None:
            attempts[name] += 1
            session.get(ScreeningJob, first, with_for_update=True)
            if attempts[name] == 1:
                both_hold_one.wait()
            session.get(ScreeningJob, second, with_for_update=True)
            session.execute(text("UPDATE screening_jobs SET attempts = attempts + 1 WHERE id = :id"), {"id": second})

        try:
            run_transaction(url, body)
        except Exception as exc:
            errors.append(type(exc).__name__)

    with DeadlockCounter(url) as deadlocks:
        threads = [
            threading.Thread(target=work, args=("a", ids[0], ids[1])),
            threading.Thread(target=work, args=("b", ids[1], ids[0])),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []
    assert deadlocks.count == 1  # it did happen, once
    assert sorted(attempts.values()) == [1, 2]
    with transaction(url) as session:
        counts = [session.get(ScreeningJob, job_id).attempts for job_id in ids]  # type: ignore[union-attr]
    assert counts == [1, 1]
