"""Celery tasks: screen a job, deliver its webhook, sweep lost jobs, purge expired records, ingest lists.

Every task is idempotent and reads its state from the database, so a duplicate, late or replayed message is
harmless. Transient faults (database or network hiccups) are retried with backoff; anything else fails the job
with the error's class name (never its message, which might carry party data) so the client is not left waiting.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
import structlog
from celery import Task
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SqlTimeout
from sqlalchemy.orm import Session

from kyc import outbox, webhooks
from kyc.matcher_cache import config_from_settings, matcher_for, stored_matcher
from kyc.retention import purge_expired
from kyc.screening import (
    JobResult,
    MatcherScreener,
    NoActiveLists,
    claim,
    fail_job,
    lock_for_screening,
    mark_enqueued,
    requeue,
    screen_job,
    stale_jobs,
)
from kyc.settings import Settings
from kyc.storage.base import utcnow
from kyc.storage.db import get_engine, is_outage, run_transaction, transaction
from kyc.storage.jobs import ScreeningJob, WebhookDelivery
from kyc.versions import ListRejected
from lists.ingest import IngestFailed, ingest_url, source_url
from lists.registry import SOURCES
from workers import delivery
from workers.app import app, current_settings

log = structlog.get_logger(__name__)

TRANSIENT = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    SqlTimeout,
    ConnectionError,
    TimeoutError,
    NoActiveLists,
)
SCREEN_RETRIES = 5
UNEXPECTED_RETRIES = 1
"""An error no classifier knows is tried once more on fresh connections before the job fails: after a database
restart SQLAlchemy can report a broken connection as an internal error (a NotImplementedError reading a result
with no description), and a job must not fail for a fault of the moment. A real defect fails it a second later."""


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT) or is_outage(exc)


def _retryable(transient: bool, retries: int, unexpected: int) -> bool:
    """Within the task's retry budget, a transient fault always earns another try and an unknown error only
    ``UNEXPECTED_RETRIES`` of its own, counted apart: a restart often shows first as an outage, then as the
    internal error on the next attempt."""
    return retries < SCREEN_RETRIES and (transient or unexpected < UNEXPECTED_RETRIES)


@app.task(name="kyc.screen_job", bind=True, acks_late=True, max_retries=SCREEN_RETRIES)  # type: ignore[untyped-decorator]
def screen_job_task(self: Task[Any, Any], job_id: str, unexpected: int = 0) -> dict[str, Any]:
    """Screen one job end to end; a finished job is skipped, so redelivery and sweeper re-enqueues are safe.

    ``unexpected`` counts the earlier tries that ended in an error no classifier knows (see ``_retryable``)."""
    settings = current_settings()
    try:
        result = run_screening(settings, job_id)
    except Exception as exc:
        transient = _is_transient(exc)
        if _retryable(transient, self.request.retries, unexpected):
            if not transient or is_outage(exc):  # pooled connections may be broken past a ping
                get_engine(settings.database_url).dispose()
            _requeue_quietly(settings, job_id)
            log.warning("screening.retry", job_id=job_id, error=type(exc).__name__, attempt=self.request.retries + 1)
            raise self.retry(
                args=(job_id,),  # both given: Celery otherwise reuses the first delivery's own (job_id twice)
                kwargs={"unexpected": unexpected + (not transient)},
                exc=exc,
                countdown=webhooks.backoff_seconds(self.request.retries + 1, 1.0, 60),
            ) from exc
        with transaction(settings.database_url) as session:
            reason = str(exc) if isinstance(exc, NoActiveLists) else f"{type(exc).__name__} during screening"
            fail_job(session, job_id, reason)
        log.error("screening.failed", job_id=job_id, error=type(exc).__name__)
        _schedule_quietly(settings, job_id)  # a failed job is an answer too: the client must not wait forever
        raise
    if result.get("status") in outbox.FINAL:
        schedule_webhook(settings, job_id)
    return result


def _requeue_quietly(settings: Settings, job_id: str) -> None:
    """Show the job as queued again if the database lets us; the retry must not depend on it.

    The fault that brought us here is often the database itself (a restart): the retry is scheduled on the broker
    whatever happens here, and a retried delivery claims a job left ``running`` just as well. Should the retry
    message be lost too, the sweeper finds the ``running`` row that no transaction holds (``kyc.screening.stale_jobs``).
    """
    try:
        with transaction(settings.database_url) as session:
            requeue(session, job_id)
    except Exception as exc:
        log.warning("screening.requeue_failed", job_id=job_id, error=type(exc).__name__)


def _schedule_quietly(settings: Settings, job_id: str) -> None:
    """Schedule the failure callback without hiding the screening error; the sweeper sends it if this fails."""
    try:
        schedule_webhook(settings, job_id)
    except Exception as exc:
        log.warning("webhook.not_scheduled", job_id=job_id, error=type(exc).__name__)


def run_screening(settings: Settings, job_id: str) -> dict[str, Any]:
    """Claim (visible as ``running``), screen with the current matcher, complete — the synchronous core."""
    # The matcher first (it may have to be built): from the claim on, the job's row is either held by this
    # worker's transaction or the job counts as orphaned after a few seconds (kyc.screening.stale_jobs).
    screener = MatcherScreener(matcher_for(settings))
    with transaction(settings.database_url) as session:
        claimed = claim(session, job_id)
        if claimed is None:
            return {"job_id": job_id, "skipped": True}
        attempts = claimed.attempts
    if attempts > settings.max_job_attempts:
        with transaction(settings.database_url) as session:
            fail_job(session, job_id, f"gave up after {attempts - 1} attempts")
        return {"job_id": job_id, "skipped": True, "status": "failed"}

    def screen(session: Session) -> JobResult | None:
        job = lock_for_screening(session, job_id)  # customer, then job: the submissions' lock order
        if job is None or job.status != "running":  # another delivery finished it meanwhile
            return None
        return screen_job(
            session,
            job,
            screener,
            high_priority_score=settings.high_priority_score,
            rescreen_days=settings.rescreen_days,
        )

    result = run_transaction(settings.database_url, screen)
    if result is None:
        return {"job_id": job_id, "skipped": True}
    return {
        "job_id": job_id,
        "status": result.status,
        "outcome": result.outcome,
        "hits": result.hits,
        "callback_url": result.callback_url,
    }


# --- webhooks ----------------------------------------------------------------------------------------------------


def schedule_webhook(settings: Settings, job_id: str) -> str | None:
    """Announce a job's current status and outcome unless that was done already (first completion, failure, or an
    outcome changed by officers or monitoring). Returns the delivery id when a notification was queued."""
    if settings.webhook_secret is None:
        log.warning("webhook.not_sent", job_id=job_id, reason="KYC_WEBHOOK_SECRET is not set")
        return None
    with transaction(settings.database_url) as session:
        delivery_id = outbox.claim_notification(session, job_id, utcnow())
    if delivery_id is not None:
        deliver_webhook_task.delay(job_id, delivery_id, 1)
    return delivery_id


@app.task(name="kyc.notify_outcome", acks_late=True)  # type: ignore[untyped-decorator]
def notify_outcome_task(job_id: str) -> str | None:
    """An officer's decision changed the job's outcome: announce it now (the API enqueues this after its commit)."""
    return schedule_webhook(current_settings(), job_id)


def _post(settings: Settings, url: str, body: bytes, event: str, delivery_id: str, secrets: list[str]) -> int:
    """Check the URL again now (DNS may have changed since submission) and POST to the addresses just checked,
    signed with the submitting client's own secret(s) over timestamp, delivery id and body (``kyc.webhooks``)."""
    target = webhooks.check_callback_url(
        url, allow_http=settings.webhook_allow_http, allow_private=settings.webhook_allow_private_networks
    )
    headers = {
        "Content-Type": "application/json",
        webhooks.SIGNATURE_HEADER: webhooks.sign(secrets, body, delivery_id),
        webhooks.EVENT_HEADER: event,
        webhooks.DELIVERY_HEADER: delivery_id,
        "User-Agent": "kyc-screening-webhooks/1",
    }
    return delivery.post(target, body, headers, settings.webhook_timeout_seconds)


def deliver_once(settings: Settings, job_id: str, delivery_id: str, attempt: int) -> WebhookDelivery | None:
    """One signed POST, recorded as a delivery row whatever happens. None when there is nothing to send."""
    with transaction(settings.database_url) as session:
        job = session.get(ScreeningJob, job_id)
        if job is None or not job.callback_url:
            return None
        payload = outbox.webhook_payload(job)
        url, body = job.callback_url, webhooks.body_bytes(payload)
        master = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        secrets = webhooks.signing_secrets(session, master, job.submitted_by)
    started = time.perf_counter()
    status_code: int | None = None
    error: str | None = None
    refused = False
    try:
        status_code = _post(settings, url, body, payload["event"], delivery_id, secrets)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except webhooks.CallbackUnresolvable:
        error = "CallbackUnresolvable"  # DNS may be back by the next attempt
    except webhooks.CallbackRefused as exc:  # policy, not a fault: retrying cannot help
        error, refused = f"refused: {exc}", True
        log.warning("webhook.refused", job_id=job_id, delivery_id=delivery_id, reason=str(exc))
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}"
    final = error is not None and (refused or attempt >= settings.webhook_max_attempts)
    row = WebhookDelivery(
        delivery_id=delivery_id,
        job_id=job_id,
        attempt=attempt,
        url=url,
        status="delivered" if error is None else ("abandoned" if final else "failed"),
        response_status=status_code,
        error=error,
        attempted_at=utcnow(),
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    with transaction(settings.database_url) as session:
        session.add(row)
    log.info("webhook.attempt", job_id=job_id, delivery_id=delivery_id, attempt=attempt, status=row.status)
    return row


@app.task(name="kyc.deliver_webhook", bind=True, acks_late=True, max_retries=None)  # type: ignore[untyped-decorator]
def deliver_webhook_task(self: Task[Any, Any], job_id: str, delivery_id: str, attempt: int = 1) -> str | None:
    """POST the completion callback; on failure schedule the next attempt with exponential backoff."""
    settings = current_settings()
    with transaction(settings.database_url) as session:
        done = outbox.delivery_done(session, delivery_id)
    if done:
        return "already-final"
    row = deliver_once(settings, job_id, delivery_id, attempt)
    if row is None:
        return None
    if row.status == "failed":
        delay = webhooks.backoff_seconds(attempt, settings.webhook_backoff_seconds)
        deliver_webhook_task.apply_async((job_id, delivery_id, attempt + 1), countdown=delay)
    return row.status


# --- sweeper, purge ----------------------------------------------------------------------------------------------


def sweep(settings: Settings) -> list[str]:
    """Re-enqueue jobs whose message was lost: queued too long, or running with no worker holding them."""
    with transaction(settings.database_url) as session:
        job_ids = stale_jobs(
            session,
            queued_after=timedelta(seconds=settings.stale_job_seconds),
            running_after=timedelta(seconds=settings.running_timeout_seconds),
            orphaned_after=timedelta(seconds=settings.orphaned_job_seconds),
        )
        mark_enqueued(session, job_ids)
    for job_id in job_ids:
        screen_job_task.delay(job_id)
    if job_ids:
        log.warning("sweeper.requeued", jobs=len(job_ids))
    if settings.webhook_secret is not None:
        resend_lost_webhooks(settings)
    return job_ids


def resend_lost_webhooks(settings: Settings, window: timedelta = timedelta(days=7)) -> int:
    """Send the callbacks owed but not on their way (``kyc.outbox.lost_notifications``)."""
    grace = timedelta(seconds=max(60, settings.stale_job_seconds))
    with transaction(settings.database_url) as session:
        fresh, overdue = outbox.lost_notifications(
            session, utcnow(), window=window, grace=grace, backoff=settings.webhook_backoff_seconds
        )
    for job_id, delivery_id, attempt in [*fresh, *overdue]:
        deliver_webhook_task.delay(job_id, delivery_id, attempt)
    if fresh or overdue:
        log.warning("sweeper.webhooks", new=len(fresh), overdue=len(overdue))
    return len(fresh) + len(overdue)


@app.task(name="kyc.sweep")  # type: ignore[untyped-decorator]
def sweep_task() -> int:
    return len(sweep(current_settings()))


@app.task(name="kyc.purge")  # type: ignore[untyped-decorator]
def purge_task() -> dict[str, int]:
    """Delete screening records whose retention has expired (beat: ``purge_interval_minutes``)."""
    settings = current_settings()
    with transaction(settings.database_url) as session:
        result = purge_expired(session)
    log.info("retention.purged", jobs=result.jobs, customers=result.customers)
    return {"jobs": result.jobs, "customers": result.customers}


# --- list ingestion ---------------------------------------------------------------------------------------------


@app.task(name="kyc.ingest_source", bind=True, acks_late=True, max_retries=2)  # type: ignore[untyped-decorator]
def ingest_source_task(self: Task[Any, Any], source: str, url: str | None = None) -> dict[str, Any]:
    """Fetch and store one source. A rejected list or failed download is recorded by ``ingest_url`` and reported,
    not retried: the next scheduled check tries again, so a broken feed never loops."""
    settings = current_settings()
    try:
        result = ingest_url(source, settings, url)
    except ListRejected as exc:
        return {"source": source, "outcome": "rejected", "reason": exc.reason}
    except IngestFailed as exc:
        return {"source": source, "outcome": "failed", "reason": str(exc)}
    except OperationalError as exc:  # the database, not the feed, is down: worth a retry
        raise self.retry(exc=exc, countdown=30) from exc
    if result is None:
        return {"source": source, "outcome": "not_modified"}
    if result.outcome == "stored":  # every new version is delta-screened (workers.monitoring)
        app.send_task("kyc.monitoring.delta", (result.version_id,))
        build_index_task.delay()
    return {"source": source, "outcome": result.outcome, "version_id": result.version_id}


@app.task(name="kyc.build_index", acks_late=True)  # type: ignore[untyped-decorator]
def build_index_task() -> str:
    """The matcher index over the active versions, built once into the index store right after a new version:
    the processes that then notice the version read it instead of building it (a child process builds it, so this
    worker's memory stays its own)."""
    settings = current_settings()
    key, _matcher = stored_matcher(
        settings.database_url, config_from_settings(settings), settings.index_dir, in_child=True
    )
    return key


def sources_with_url(settings: Settings) -> list[str]:
    names = []
    for source in settings.ingest_sources if settings.ingest_sources is not None else SOURCES:
        try:
            source_url(source, settings)
        except (IngestFailed, ImportError):
            continue
        names.append(source)
    return names


@app.task(name="kyc.check_sources")  # type: ignore[untyped-decorator]
def check_sources_task() -> list[str]:
    """Beat: enqueue an ingestion of every source that has an official feed or a configured URL."""
    names = sources_with_url(current_settings())
    for source in names:
        ingest_source_task.delay(source)
    return names
