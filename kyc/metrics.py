"""What operators watch, read from the database (the source of truth): jobs by status, the queue's depth and the
age of its oldest job, screening latencies, list freshness per source, webhook deliveries, audit checkpoint age.

Read at scrape time rather than counted in each process, so every API replica reports the same figures, a restart
loses nothing, and work done by worker processes (which do not serve HTTP) is seen too. Each figure costs one
indexed query; none reads personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kyc import audit, checkpoints
from kyc.settings import Settings
from kyc.storage.base import utcnow
from kyc.storage.jobs import ScreeningJob, WebhookDelivery
from kyc.storage.lists import ListSource, ListVersion

JOB_STATUSES = ("queued", "running", "completed", "failed")
DELIVERY_RESULTS = ("delivered", "failed", "abandoned", "queued")


@dataclass(frozen=True)
class ListAge:
    source: str
    since_publication: float | None
    """Seconds since the active version's own publication date (None when the file carries none)."""
    since_fetch: float
    """Seconds since the active version was fetched."""


@dataclass
class Figures:
    jobs: dict[str, int] = field(default_factory=dict)
    oldest_queued_seconds: float = 0.0
    lists: list[ListAge] = field(default_factory=list)
    deliveries: dict[str, int] = field(default_factory=dict)
    checkpoint_age_seconds: float | None = None
    """Seconds since the newest signed audit checkpoint; None when there is none or it cannot be trusted."""


def _seconds(now: datetime, then: datetime | None) -> float | None:
    if then is None:
        return None
    if then.tzinfo is None:  # stored UTC; SQLite hands it back naive
        then = then.replace(tzinfo=UTC)
    return max(0.0, (now - then).total_seconds())


def figures(session: Session, settings: Settings, now: datetime | None = None) -> Figures:
    moment = now or utcnow()
    by_status = select(ScreeningJob.status, func.count()).group_by(ScreeningJob.status)
    counts: dict[str, int] = {str(status): int(count) for status, count in session.execute(by_status)}
    jobs = {status: int(counts.get(status, 0)) for status in JOB_STATUSES}
    oldest = session.execute(
        select(func.min(ScreeningJob.created_at)).where(ScreeningJob.status == "queued")
    ).scalar_one_or_none()
    rows = session.execute(
        select(ListSource.name, ListVersion.published_at, ListVersion.fetched_at).join(
            ListVersion, ListVersion.id == ListSource.active_version_id
        )
    ).all()
    lists = [
        ListAge(name, _seconds(moment, published), _seconds(moment, fetched) or 0.0)
        for name, published, fetched in sorted(rows)
    ]
    by_result = select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    delivered: dict[str, int] = {str(result): int(count) for result, count in session.execute(by_result)}
    deliveries = {result: int(delivered.get(result, 0)) for result in DELIVERY_RESULTS}
    return Figures(
        jobs=jobs,
        oldest_queued_seconds=_seconds(moment, oldest) or 0.0,
        lists=lists,
        deliveries=deliveries,
        checkpoint_age_seconds=checkpoint_age(settings, moment),
    )


def checkpoint_age(settings: Settings, now: datetime | None = None) -> float | None:
    """Age of the newest checkpoint whose signature verifies; None when there is none to trust."""
    try:
        newest = checkpoints.newest(checkpoints.read(settings, audit.get_audit_keys()))
    except Exception:  # an unreadable or altered file, or no audit key: no age to report
        return None
    return None if newest is None else _seconds(now or utcnow(), newest.at)


def latencies_since(session: Session, after: datetime, limit: int = 10_000) -> tuple[list[float], datetime]:
    """Submission-to-completion seconds of the jobs completed after ``after``, and the new watermark.

    Selected through the ``(status, updated_at)`` index (a completed job's ``updated_at`` is at or after its
    completion) and filtered on ``completed_at``, so a job updated again later (an officer's decision) is not
    counted twice.
    """
    rows = session.execute(
        select(ScreeningJob.created_at, ScreeningJob.completed_at)
        .where(
            ScreeningJob.status == "completed",
            ScreeningJob.updated_at > after,
            ScreeningJob.completed_at > after,
        )
        .order_by(ScreeningJob.completed_at)
        .limit(limit)
    ).all()
    finished = [(created, done) for created, done in rows if done is not None]
    if not finished:
        return [], after
    values = [max(0.0, (done - created).total_seconds()) for created, done in finished]
    return values, max(done for _created, done in finished)
