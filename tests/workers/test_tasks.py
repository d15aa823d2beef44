"""Celery tasks on a real worker and the real Redis: signed webhooks with retries, purge, list ingestion over HTTP."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from kyc import index_store
from kyc.matcher_cache import active_versions, config_from_settings
from kyc.retention import end_relationship
from kyc.screening import screen_job
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.storage.jobs import ScreeningJob, WebhookDelivery
from kyc.storage.lists import FetchLog, ListSource
from kyc.submission import CustomerSpec, JobSpec, PersonSpec, create_job
from lists.ingest import ingest_files
from tests.support import service as service_support
from tests.support.env import list_file
from tests.support.httpserver import serve_files
from tests.support.service import UN_2026, wait_for, wait_until
from tests.support.webhooks import receiver
from workers.tasks import (
    check_sources_task,
    ingest_source_task,
    purge_task,
    screen_job_task,
    sources_with_url,
)

pytestmark = pytest.mark.slow
celery_worker = service_support.celery_worker
service = service_support.service


@pytest.fixture
def hooks(service: Settings) -> Settings:
    """The service, allowed to call back to receivers on 127.0.0.1 (refused by default: SSRF)."""
    from workers.app import use_settings

    settings = service.model_copy(update={"webhook_allow_private_networks": True})
    use_settings(settings)
    return settings


def submit(settings: Settings, key: str, callback_url: str | None = None, name: str = "Emraan Ali") -> str:
    spec = JobSpec(
        customer=CustomerSpec(name="Esimerkki Oy", country="FI", business_id="1572860-0"),
        persons=(PersonSpec("representative", name, birth_date="1967-07-04"),),
        client_reference="CRM-7",
        callback_url=callback_url,
    )
    with transaction(settings.database_url) as session:
        job, _ = create_job(
            session, spec, submitted_by="u1", idempotency_key=key, retention_years=settings.retention_years
        )
        return job.id


def deliveries(settings: Settings, job_id: str) -> list[WebhookDelivery]:
    with transaction(settings.database_url) as session:
        return list(
            session.execute(
                select(WebhookDelivery).where(WebhookDelivery.job_id == job_id).order_by(WebhookDelivery.attempt)
            ).scalars()
        )


def test_completion_webhook_is_signed_retried_with_backoff_and_every_attempt_recorded(hooks: Settings) -> None:
    service = hooks
    ingest_files("un_sc", [list_file(UN_2026)], service)
    with receiver(fail=2) as hook:
        job_id = submit(service, "hook", hook.url)
        screen_job_task.delay(job_id)
        assert wait_for(service.database_url, job_id) == "completed"
        wait_until(lambda: len(hook.received) == 1, what="webhook delivery")
        # The receiver answers before the worker commits the delivered attempt: wait for the record too.
        wait_until(lambda: len(deliveries(service, job_id)) == 4, what="delivery recorded")
    assert hook.rejected == []  # every attempt carried a valid signature
    payload = hook.received[0]["body"]
    assert payload == {
        "event": "screening.completed",
        "id": job_id,
        "status": "completed",
        "outcome": "review",
        "client_reference": "CRM-7",
        "completed_at": payload["completed_at"],
    }
    rows = deliveries(service, job_id)
    assert [(r.attempt, r.status, r.response_status) for r in rows] == [
        (0, "queued", None),  # the marker written when the notification is scheduled
        (1, "failed", 503),
        (2, "failed", 503),
        (3, "delivered", 204),
    ]
    assert len({r.delivery_id for r in rows}) == 1 and hook.received[0]["delivery"] == rows[0].delivery_id
    gaps = [(b.attempted_at - a.attempted_at).total_seconds() for a, b in itertools.pairwise(rows[1:])]
    assert gaps[0] >= 0.15 and gaps[1] >= 0.35  # 0.2 s, then 0.4 s: exponential backoff


def test_webhook_to_a_dead_endpoint_is_abandoned_after_the_configured_attempts(hooks: Settings) -> None:
    from workers.app import use_settings

    settings = hooks.model_copy(update={"webhook_max_attempts": 2, "webhook_backoff_seconds": 0.05})
    use_settings(settings)
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    job_id = submit(settings, "dead", "http://127.0.0.1:9/unreachable")
    screen_job_task.delay(job_id)
    wait_for(settings.database_url, job_id)
    wait_until(lambda: len(deliveries(settings, job_id)) == 3, what="two attempts")
    rows = deliveries(settings, job_id)
    assert [r.status for r in rows] == ["queued", "failed", "abandoned"] and rows[1].error == "ConnectError"


def test_purge_task_deletes_expired_records(service: Settings) -> None:
    job_id = submit(service, "old")
    with transaction(service.database_url) as session:
        job = session.get(ScreeningJob, job_id)
        assert job is not None
        job.status = "completed"
        end_relationship(session, job.customer_id, datetime.now(UTC) - timedelta(days=6 * 366), 5)
    keep = submit(service, "new", name="Someone Else")
    with transaction(service.database_url) as session:
        kept = session.get(ScreeningJob, keep)
        assert kept is not None
        kept.status = "completed"
    purge_task.delay()
    wait_until(lambda: _job_gone(service, job_id), what="purge")
    assert not _job_gone(service, keep)


def _job_gone(settings: Settings, job_id: str) -> bool:
    with transaction(settings.database_url) as session:
        return session.get(ScreeningJob, job_id) is None


def test_ingest_task_fetches_a_served_list_and_records_rejections(service: Settings, tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<CONSOLIDATED_LIST><INDIVIDUALS></INDIVIDUALS>")
    with serve_files({"un.xml": list_file(UN_2026), "broken.xml": broken}) as served:
        ingest_source_task.delay("un_sc", served.url("un.xml"))
        wait_until(lambda: _outcome(service, "un_sc") == "stored", what="UN list stored")
        ingest_source_task.delay("un_sc", served.url("un.xml"))  # unchanged: conditional GET answers 304
        wait_until(lambda: _outcome(service, "un_sc") == "not_modified", what="304 recorded")
        ingest_source_task.delay("un_sc", served.url("broken.xml"))
        wait_until(lambda: _outcome(service, "un_sc") == "rejected", what="rejection recorded")
        assert served.statuses.count(304) == 1
    with transaction(service.database_url) as session:
        state = session.get(ListSource, "un_sc")
        outcomes = session.execute(select(FetchLog.outcome).order_by(FetchLog.id)).scalars().all()
    assert state is not None and state.active_version_id is not None  # the good version stays active
    assert outcomes.count("rejected") == 1  # recorded once, not retried
    # The stored version's matcher index was built into the store for every process to read.
    with transaction(service.database_url) as session:
        key = index_store.index_key(active_versions(session), config_from_settings(service))
    wait_until(lambda: index_store.read(service.index_dir, key) is not None, what="index stored", timeout=120)


def _outcome(settings: Settings, source: str) -> str | None:
    with transaction(settings.database_url) as session:
        state = session.get(ListSource, source)
        return state.last_outcome if state else None


def test_beat_check_covers_every_source_with_a_url(service: Settings) -> None:
    from workers.app import beat_schedule, use_settings

    assert "un_sc" in sources_with_url(service) and "fi_national" not in sources_with_url(service)  # manual only
    assert beat_schedule(service)["check-list-sources"]["schedule"] <= timedelta(hours=1)
    with serve_files({"un.xml": list_file(UN_2026)}) as served:
        settings = service.model_copy(
            update={"source_urls": {"un_sc": served.url("un.xml")}, "ingest_sources": ["un_sc", "fi_national"]}
        )
        use_settings(settings)
        assert check_sources_task.apply().get() == ["un_sc"]  # the beat task, inline; the ingest runs on the worker
        wait_until(lambda: _outcome(settings, "un_sc") == "stored", what="UN list stored by the beat check")


def test_sweeper_sends_a_callback_whose_message_was_lost(hooks: Settings) -> None:
    from workers.tasks import resend_lost_webhooks, sweep_task

    service = hooks
    with receiver() as hook:
        job_id = submit(service, "lost-hook", hook.url)
        with transaction(service.database_url) as session:  # completed, but the webhook message never got out
            job = session.get(ScreeningJob, job_id)
            assert job is not None
            job.status, job.outcome = "completed", "clear"
            job.completed_at = job.updated_at = datetime.now(UTC) - timedelta(minutes=5)
        sweep_task.delay()
        wait_until(lambda: len(hook.received) >= 1, what="re-sent webhook")
        assert resend_lost_webhooks(service) == 0  # the next sweep finds the delivery: nothing is sent twice
    assert hook.received[0]["body"]["id"] == job_id and hook.received[0]["body"]["outcome"] == "clear"
    assert len(hook.received) == 1
    assert [(r.attempt, r.status) for r in deliveries(service, job_id)] == [(0, "queued"), (1, "delivered")]


def test_an_outcome_changed_after_the_first_callback_is_announced_again(hooks: Settings) -> None:
    """Officers' decisions (kyc.outcome.refresh) run in the API, where no worker is called: the sweeper
    notices that the current outcome was never announced and sends it, once, under a new delivery id."""
    from kyc.hits import HitStatus
    from kyc.outcome import refresh as refresh_outcome
    from kyc.storage.hits import Hit
    from workers.tasks import resend_lost_webhooks, sweep_task

    service = hooks
    ingest_files("un_sc", [list_file(UN_2026)], service)
    with receiver() as hook:
        job_id = submit(service, "changed", hook.url)
        screen_job_task.delay(job_id)
        wait_until(lambda: len(hook.received) == 1, what="completion webhook")
        assert resend_lost_webhooks(service) == 0  # announced: nothing owed
        with transaction(service.database_url) as session:
            job = session.get(ScreeningJob, job_id)
            assert job is not None
            for hit in session.execute(select(Hit).where(Hit.job_id == job_id)).scalars():
                hit.status = HitStatus.CONFIRMED  # as the second officer's decision leaves it
            assert refresh_outcome(session, job) == "match"
            job.updated_at -= timedelta(minutes=5)  # past the sweeper's grace period
        sweep_task.delay()
        wait_until(lambda: len(hook.received) == 2, what="webhook for the changed outcome")
        assert resend_lost_webhooks(service) == 0  # sent once
    first, second = hook.received
    assert (first["body"]["outcome"], second["body"]["outcome"]) == ("review", "match")
    assert first["delivery"] != second["delivery"]


def test_a_failed_job_gets_a_callback(hooks: Settings) -> None:
    with receiver() as hook:
        job_id = submit(hooks, "fails", hook.url)
        with transaction(hooks.database_url) as session:  # every earlier attempt crashed a worker
            job = session.get(ScreeningJob, job_id)
            assert job is not None
            job.attempts = hooks.max_job_attempts
        screen_job_task.delay(job_id)
        assert wait_for(hooks.database_url, job_id) == "failed"
        wait_until(lambda: len(hook.received) == 1, what="failure webhook")
    body = hook.received[0]["body"]
    assert (body["event"], body["id"], body["status"], body["outcome"]) == ("screening.failed", job_id, "failed", None)


def _raising(errors: list[Exception], real: Any) -> Any:
    """``screen_job`` raising ``errors`` one call each, then doing its real work. ``NotImplementedError`` stands for
    the way SQLAlchemy can fail on a connection broken by a database restart (an internal error, not a DBAPIError)."""
    pending = iter(errors)

    def screen(*args: Any, **kwargs: Any) -> Any:
        error = next(pending, None)
        if error is not None:
            raise error
        return real(*args, **kwargs)

    return screen


def test_an_unexpected_error_is_tried_once_more_before_the_job_fails(
    hooks: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_files("un_sc", [list_file(UN_2026)], hooks)
    monkeypatch.setattr("workers.tasks.screen_job", _raising([NotImplementedError()], screen_job))
    recovered = submit(hooks, "unexpected-once")
    screen_job_task.delay(recovered)
    assert wait_for(hooks.database_url, recovered) == "completed"

    outage = OperationalError("BEGIN", {}, Exception("server closed the connection unexpectedly"))
    monkeypatch.setattr("workers.tasks.screen_job", _raising([outage, NotImplementedError()], screen_job))
    after_outage = submit(hooks, "unexpected-after-outage")
    screen_job_task.delay(after_outage)
    assert wait_for(hooks.database_url, after_outage) == "completed"

    monkeypatch.setattr("workers.tasks.screen_job", _raising([NotImplementedError()] * 10, screen_job))
    with receiver() as hook:
        broken = submit(hooks, "unexpected-always", hook.url)
        screen_job_task.delay(broken)
        assert wait_for(hooks.database_url, broken) == "failed"
        wait_until(lambda: len(hook.received) == 1, what="failure webhook")
    with transaction(hooks.database_url) as session:
        job = session.get(ScreeningJob, broken)
        assert job is not None
        assert (job.attempts, job.error) == (2, "NotImplementedError during screening")
