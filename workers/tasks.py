"""Celery tasks: screen a job, deliver its webhook, sweep lost jobs, purge expired records, ingest lists.

Every task is idempotent and reads its state from the database, so a duplicate, late or replayed message is
harmless. Transient faults (database or network hiccups) are retried with backoff; anything else fails the job
with the error's class name (never its message, which might carry party data) so the client is not left waiting.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from celery import Task
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from kyc import webhooks
from kyc.matching import matcher_cache
from kyc.monitoring import after_screening
from kyc.retention import purge_expired
from kyc.screening import (
    MatcherScreener,
    NoActiveLists,
    claim,
    fail_job,
    mark_enqueued,
    requeue,
    screen_job,
    stale_jobs,
)
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.storage.models import utcnow
from kyc.storage.screening_models import ScreeningJob, WebhookDelivery
from kyc.versions import ListRejected
from lists.ingest import IngestFailed, ingest_url, source_url
from lists.registry import SOURCES
from workers.app import app, current_settings

log = structlog.get_logger(__name__)

TRANSIENT = (OperationalError, ConnectionError, TimeoutError, NoActiveLists)
SCREEN_RETRIES = 5


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


@app.task(name="kyc.screen_job", bind=True, acks_late=True, max_retries=SCREEN_RETRIES)  # type: ignore[untyped-decorator]
def screen_job_task(self: Task[Any, Any], job_id: str) -> dict[str, Any]:
    """Screen one job end to end; a finished job is skipped, so redelivery and sweeper re-enqueues are safe."""
    settings = current_settings()
    try:
        result = run_screening(settings, job_id)
    except Exception as exc:
        if _is_transient(exc) and self.request.retries < SCREEN_RETRIES:
            with transaction(settings.database_url) as session:
                requeue(session, job_id)
            log.warning("screening.retry", job_id=job_id, error=type(exc).__name__, attempt=self.request.retries + 1)
            raise self.retry(exc=exc, countdown=webhooks.backoff_seconds(self.request.retries + 1, 1.0, 60)) from exc
        with transaction(settings.database_url) as session:
            reason = str(exc) if isinstance(exc, NoActiveLists) else f"{type(exc).__name__} during screening"
            fail_job(session, job_id, reason)
        log.error("screening.failed", job_id=job_id, error=type(exc).__name__)
        raise
    if result.get("callback_url") and not result.get("skipped"):
        schedule_webhook(settings, job_id)
    return result


def run_screening(settings: Settings, job_id: str) -> dict[str, Any]:
    """Claim (visible as ``running``), screen with the current matcher, complete — the synchronous core."""
    with transaction(settings.database_url) as session:
        claimed = claim(session, job_id)
        if claimed is None:
            return {"job_id": job_id, "skipped": True}
        attempts = claimed.attempts
    if attempts > settings.max_job_attempts:
        with transaction(settings.database_url) as session:
            fail_job(session, job_id, f"gave up after {attempts - 1} attempts")
        return {"job_id": job_id, "skipped": True, "status": "failed"}
    screener = MatcherScreener(matcher_cache.get(settings.database_url))
    with transaction(settings.database_url) as session:
        job = session.get(ScreeningJob, job_id, with_for_update=True)
        if job is None or job.status != "running":  # another delivery finished it meanwhile
            return {"job_id": job_id, "skipped": True}
        result = screen_job(session, job, screener, high_priority_score=settings.high_priority_score)
        after_screening(session, job, settings.rescreen_days)  # issue 5: suppressions, customer outcome, schedule
        result.outcome = job.outcome
    return {
        "job_id": job_id,
        "status": result.status,
        "outcome": result.outcome,
        "hits": result.hits,
        "callback_url": result.callback_url,
    }


# --- webhooks ----------------------------------------------------------------------------------------------------


def schedule_webhook(settings: Settings, job_id: str) -> None:
    if settings.webhook_secret is None:
        log.warning("webhook.not_sent", job_id=job_id, reason="KYC_WEBHOOK_SECRET is not set")
        return
    deliver_webhook_task.delay(job_id, str(uuid.uuid4()), 1)


def webhook_payload(job: ScreeningJob) -> dict[str, Any]:
    """What the onboarding system learns: status and outcome only (no hit details: tipping-off risk)."""
    return {
        "event": "screening.completed",
        "id": job.id,
        "status": job.status,
        "outcome": job.outcome,
        "client_reference": job.client_reference,
        "completed_at": job.completed_at.isoformat() if job.completed_at else None,
    }


def _post(settings: Settings, url: str, body: bytes, delivery_id: str) -> httpx.Response:
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    headers = {
        "Content-Type": "application/json",
        webhooks.SIGNATURE_HEADER: webhooks.sign(secret, body),
        webhooks.EVENT_HEADER: "screening.completed",
        webhooks.DELIVERY_HEADER: delivery_id,
        "User-Agent": "kyc-screening-webhooks/1",
    }
    with httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False) as client:
        return client.post(url, content=body, headers=headers)


def deliver_once(settings: Settings, job_id: str, delivery_id: str, attempt: int) -> WebhookDelivery | None:
    """One signed POST, recorded as a delivery row whatever happens. None when there is nothing to send."""
    with transaction(settings.database_url) as session:
        job = session.get(ScreeningJob, job_id)
        if job is None or not job.callback_url:
            return None
        url, body = job.callback_url, webhooks.body_bytes(webhook_payload(job))
    started = time.perf_counter()
    status_code: int | None = None
    error: str | None = None
    try:
        response = _post(settings, url, body, delivery_id)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}"
    final = error is not None and attempt >= settings.webhook_max_attempts
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
        done = session.execute(
            select(WebhookDelivery.id).where(
                WebhookDelivery.delivery_id == delivery_id, WebhookDelivery.status.in_(("delivered", "abandoned"))
            )
        ).first()
    if done is not None:
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
    """Re-enqueue jobs whose message was lost (queued too long, or running far beyond any real screening)."""
    with transaction(settings.database_url) as session:
        job_ids = stale_jobs(
            session,
            queued_after=timedelta(seconds=settings.stale_job_seconds),
            running_after=timedelta(seconds=settings.running_timeout_seconds),
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
    """Callbacks whose message went missing: a completed job with no attempt at all, or an attempt whose retry is
    long overdue. A ``queued`` row (attempt 0) marks a re-sent callback so that the next sweep does not send it
    again, yet finds it if that message is lost too. Receivers de-duplicate on the delivery id."""
    now = utcnow()
    grace = timedelta(seconds=max(60, settings.stale_job_seconds))
    with transaction(settings.database_url) as session:
        never = session.execute(
            select(ScreeningJob.id, ScreeningJob.callback_url).where(
                ScreeningJob.status == "completed",
                ScreeningJob.callback_url.is_not(None),
                ScreeningJob.completed_at <= now - grace,
                ScreeningJob.completed_at >= now - window,
                ~select(WebhookDelivery.id).where(WebhookDelivery.job_id == ScreeningJob.id).exists(),
            )
        ).all()
        fresh = [(job_id, str(uuid.uuid4()), 1) for job_id, _url in never]
        session.add_all(
            WebhookDelivery(
                delivery_id=delivery_id, job_id=job_id, attempt=0, url=url, status="queued", attempted_at=now
            )
            for (job_id, url), (_, delivery_id, _attempt) in zip(never, fresh, strict=True)
        )
        overdue = _overdue_deliveries(session, now, window, grace, settings.webhook_backoff_seconds)
    for job_id, delivery_id, attempt in [*fresh, *overdue]:
        deliver_webhook_task.delay(job_id, delivery_id, attempt)
    if fresh or overdue:
        log.warning("sweeper.webhooks", new=len(fresh), overdue=len(overdue))
    return len(fresh) + len(overdue)


def _overdue_deliveries(
    session: Session, now: datetime, window: timedelta, grace: timedelta, backoff: float
) -> list[tuple[str, str, int]]:
    latest = session.execute(
        select(WebhookDelivery.job_id, WebhookDelivery.delivery_id, func.max(WebhookDelivery.attempt))
        .where(WebhookDelivery.attempted_at >= now - window)
        .group_by(WebhookDelivery.job_id, WebhookDelivery.delivery_id)
    ).all()
    overdue = []
    for job_id, delivery_id, attempt in latest:
        row = session.execute(
            select(WebhookDelivery.status, WebhookDelivery.attempted_at).where(
                WebhookDelivery.delivery_id == delivery_id, WebhookDelivery.attempt == attempt
            )
        ).first()
        wait = timedelta(seconds=webhooks.backoff_seconds(attempt, backoff)) + grace
        if row is not None and row.status in ("failed", "queued") and row.attempted_at <= now - wait:
            overdue.append((job_id, delivery_id, attempt + 1))
    return overdue


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


# --- list ingestion (issue 2) ------------------------------------------------------------------------------------


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
    if result.outcome == "stored":  # issue 5: every new version is delta-screened (workers.monitoring)
        app.send_task("kyc.monitoring.delta", (result.version_id,))
    return {"source": source, "outcome": result.outcome, "version_id": result.version_id}


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
