"""The webhook outbox: which notification a job owes its onboarding system, and which ones went missing.

A job announces its status and outcome to its ``callback_url`` when it finishes and again whenever officers,
monitoring or a correction change the outcome. Delivery ids are derived from the state they announce
(:func:`notification_id`), so a job's delivery rows alone tell whether its current state was announced; a
``queued`` row (attempt 0) marks a notification on its way, so that the sweeper neither sends it twice nor loses it
when the broker message is lost. Receivers keep the latest state and de-duplicate on the delivery id.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kyc.storage.jobs import ScreeningJob, WebhookDelivery
from kyc.webhooks import backoff_seconds

FINAL = ("completed", "failed")
NOTIFICATION_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:kyc-screening:webhook-notification")
Owed = tuple[str, str, int]
"""``(job id, delivery id, attempt)``: one delivery to send."""


def notification_id(job: ScreeningJob, sequence: int) -> str:
    """The delivery id of the ``sequence``-th notification of a job, derived from the state it announces.

    Deterministic, so the job's delivery rows alone tell whether its current status and outcome were announced:
    the latest notification's id equals ``notification_id(job, count - 1)`` exactly when nothing changed since.
    The sequence number keeps a flip back to an earlier outcome (review -> match -> review) a new notification.
    """
    return str(uuid.uuid5(NOTIFICATION_NAMESPACE, f"{job.id}:{sequence}:{job.status}:{job.outcome}"))


def notified(session: Session, job_ids: list[str]) -> dict[str, list[str]]:
    """Per job, its notifications' delivery ids, oldest first."""
    rows = session.execute(
        select(WebhookDelivery.job_id, WebhookDelivery.delivery_id, func.min(WebhookDelivery.id).label("first"))
        .where(WebhookDelivery.job_id.in_(job_ids))
        .group_by(WebhookDelivery.job_id, WebhookDelivery.delivery_id)
        .order_by("first")
    ).all()
    found: dict[str, list[str]] = {job_id: [] for job_id in job_ids}
    for job_id, delivery_id, _first in rows:
        found[job_id].append(delivery_id)
    return found


def pending_notification(job: ScreeningJob, announced: list[str]) -> str | None:
    """The delivery id of the notification a job owes its callback, or None when its state was announced."""
    if not job.callback_url or job.status not in FINAL:
        return None
    if announced and announced[-1] == notification_id(job, len(announced) - 1):
        return None
    return notification_id(job, len(announced))


def _queue(session: Session, job: ScreeningJob, delivery_id: str, now: datetime) -> None:
    """The ``queued`` marker (attempt 0): counts as sent for the next check, and the sweeper re-sends it if the
    message is lost."""
    session.add(
        WebhookDelivery(
            delivery_id=delivery_id, job_id=job.id, attempt=0, url=job.callback_url, status="queued", attempted_at=now
        )
    )


def claim_notification(session: Session, job_id: str, now: datetime) -> str | None:
    """Queue the notification the job owes, if any, and return its delivery id. The job row is locked while
    reading it, so a concurrent outcome change either waits for this or is seen by it."""
    job = session.get(ScreeningJob, job_id, with_for_update=True)
    if job is None:
        return None
    delivery_id = pending_notification(job, notified(session, [job_id])[job_id])
    if delivery_id is not None:
        _queue(session, job, delivery_id, now)
    return delivery_id


def webhook_payload(job: ScreeningJob) -> dict[str, Any]:
    """What the onboarding system learns: status and outcome only (no hit details: tipping-off risk). Built when
    sent, so a retry of an older notification carries the current outcome, never a stale one."""
    return {
        "event": "screening.failed" if job.status == "failed" else "screening.completed",
        "id": job.id,
        "status": job.status,
        "outcome": job.outcome,
        "client_reference": job.client_reference,
        "completed_at": job.completed_at.isoformat() if job.completed_at else None,
    }


def delivery_done(session: Session, delivery_id: str) -> bool:
    """Whether a notification was delivered or given up on (a later message for it has nothing to do)."""
    return (
        session.execute(
            select(WebhookDelivery.id).where(
                WebhookDelivery.delivery_id == delivery_id, WebhookDelivery.status.in_(("delivered", "abandoned"))
            )
        ).first()
        is not None
    )


def _owed(session: Session, job_ids: list[str], now: datetime) -> list[Owed]:
    announced = notified(session, job_ids)
    owed = []
    for job in session.execute(select(ScreeningJob).where(ScreeningJob.id.in_(job_ids))).scalars().all():
        if pending_notification(job, announced[job.id]) is None:
            continue
        session.refresh(job, with_for_update=True)  # lock only the few that owe one; re-read under the lock
        delivery_id = pending_notification(job, announced[job.id])
        if delivery_id is not None:
            _queue(session, job, delivery_id, now)
            owed.append((job.id, delivery_id, 1))
    return owed


def _overdue(session: Session, now: datetime, window: timedelta, grace: timedelta, backoff: float) -> list[Owed]:
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
        wait = timedelta(seconds=backoff_seconds(attempt, backoff)) + grace
        if row is not None and row.status in ("failed", "queued") and row.attempted_at <= now - wait:
            overdue.append((job_id, delivery_id, attempt + 1))
    return overdue


def lost_notifications(
    session: Session, now: datetime, *, window: timedelta, grace: timedelta, backoff: float, chunk: int = 500
) -> tuple[list[Owed], list[Owed]]:
    """``(new, overdue)`` deliveries to send: a finished job changed in the last ``window`` whose current status and
    outcome no notification announced — its message was lost, or officers' decisions, monitoring or a correction
    changed the outcome after the first callback — and attempts whose retry is long overdue. New ones are marked
    ``queued`` here, so that the next sweep does not send them again, yet finds them if that message is lost too."""
    job_ids = (
        session.execute(
            select(ScreeningJob.id).where(
                ScreeningJob.status.in_(FINAL),
                ScreeningJob.callback_url.is_not(None),
                ScreeningJob.updated_at <= now - grace,
                ScreeningJob.updated_at >= now - window,
            )
        )
        .scalars()
        .all()
    )
    fresh: list[Owed] = []
    for start in range(0, len(job_ids), chunk):
        fresh.extend(_owed(session, list(job_ids[start : start + chunk]), now))
    return fresh, _overdue(session, now, window, grace, backoff)
