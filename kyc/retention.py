"""Retention of screening records: end of the customer relationship + N years (AML Act 444/2017, 3:3), then delete.

``retention_until`` is always set, so that every row answers "until when" on its own. While the relationship lasts
its end is unknown; the value is then the earliest possible end (the latest activity) plus N years, and every new
screening of the customer pushes it forward. A customer who was screened but never onboarded therefore drops out
N years after the last screening; :func:`end_relationship` fixes the date to the real end. A legal hold (a
pending investigation, a court order) suspends deletion whatever the date says. So does, implicitly, a block, a
confirmed hit or an authority notification not yet ``sent``: a frozen or reported case is never deleted by the
clock, however the end date was set (:func:`held_customers`); each purge logs those it keeps, by id and reason
only. The ways out are explicit and audited: an officer records the notification as sent
(``kyc.review.mark_notification_sent``), and two officers lift the block
(``kyc.review.decide_block_lift``) on the ground that the entry was delisted or that the confirmation was wrong
(the hit is then overturned, so it no longer counts as confirmed here). A confirmed sanctions hit that still stands
keeps holding the case, and so does the block itself until it is lifted: a delisted hit no longer counts as
confirmed, but delisting alone does not unfreeze a customer.

The purge deletes rows, not just personal columns: an expired record has no purpose left. It logs ids and counts
only — the log must not re-create the personal data it is there to prove deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import CompoundSelect, Select, delete, exists, select, union, update
from sqlalchemy.orm import Session

from kyc import audit
from kyc.hits import HitKind, HitStatus
from kyc.review.notifications import NOTIFICATION_SENT
from kyc.storage.base import utcnow
from kyc.storage.hits import AuthorityNotification, Hit
from kyc.storage.jobs import Customer, Party, PurgeLog, ScreeningJob, WebhookDelivery

log = structlog.get_logger(__name__)
PURGE_ACTOR = "system:retention"


def add_years(moment: datetime, years: int) -> datetime:
    """``moment`` plus whole calendar years; 29 February becomes 28 February in a common year."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def retention_until(relationship_end: datetime, years: int) -> datetime:
    return add_years(relationship_end, years)


def extend_for_activity(customer: Customer, years: int, now: datetime | None = None) -> datetime:
    """A new screening shows the relationship still lasts: keep everything at least N years from now."""
    if customer.relationship_ended_at is not None:
        return customer.retention_until
    candidate = retention_until(now or utcnow(), years)
    if customer.retention_until is None or candidate > customer.retention_until:
        customer.retention_until = candidate
    return customer.retention_until


def end_relationship(session: Session, customer_id: str, ended_at: datetime, years: int) -> datetime:
    """Record the end of the customer relationship; its records are then kept exactly N years from that day.

    Records only: the checks (not blocked, no undecided hits, not before the last activity) are in
    ``kyc.customers.end_relationship``, which every user-facing path calls; the purge's hold protects a frozen or
    reported case whatever date ends up here.
    """
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise LookupError(f"customer {customer_id} does not exist")
    customer.relationship_ended_at = ended_at
    until = retention_until(ended_at, years)
    customer.retention_until = until
    session.execute(update(ScreeningJob).where(ScreeningJob.customer_id == customer_id).values(retention_until=until))
    return until


def set_legal_hold(session: Session, customer_id: str, hold: bool) -> None:
    """Suspend (or resume) deletion of a customer and all its screenings."""
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise LookupError(f"customer {customer_id} does not exist")
    customer.legal_hold = hold
    session.execute(update(ScreeningJob).where(ScreeningJob.customer_id == customer_id).values(legal_hold=hold))


@dataclass(frozen=True)
class PurgeResult:
    jobs: int
    customers: int


NOTIFICATION_DONE = NOTIFICATION_SENT
"""An authority notification is done once an officer records it as sent; until then the case is kept."""


def _confirmed_customers() -> Select[str]:
    """Customers with a confirmed *sanctions* match: a frozen case is kept; a confirmed PEP match is not a reason."""
    return (
        select(ScreeningJob.customer_id)
        .join(Hit, Hit.job_id == ScreeningJob.id)
        .where(Hit.status == HitStatus.CONFIRMED.value, Hit.kind == HitKind.SANCTION.value)
    )


def _notified_customers() -> Select[str]:
    return select(AuthorityNotification.customer_id).where(AuthorityNotification.status != NOTIFICATION_DONE)


def _blocked_customers() -> Select[str]:
    """Customers still blocked: only two officers end a block (``kyc.review.decide_block_lift``), not the clock."""
    return select(Customer.id).where(Customer.blocked_at.is_not(None))


def held_customers() -> CompoundSelect[str]:
    """Customers the purge must not touch: a legal hold, a block, a confirmed sanctions hit, or an authority
    notification not done."""
    explicit = select(Customer.id).where(Customer.legal_hold.is_(True))
    return union(explicit, _blocked_customers(), _confirmed_customers(), _notified_customers())


def _log_implicit_holds(session: Session, now: datetime) -> None:
    """Expired customers kept because of a block, a confirmed hit or a pending notification: ids and reasons only."""
    expired = select(Customer.id).where(Customer.retention_until <= now, Customer.legal_hold.is_(False))
    for reason, query in (
        ("blocked", _blocked_customers()),
        ("confirmed_hit", _confirmed_customers()),
        ("notification_pending", _notified_customers()),
    ):
        ids = session.execute(query.where(query.selected_columns[0].in_(expired)).distinct()).scalars()
        for customer_id in sorted(ids):
            log.warning("retention.held", object_type="customer", object_id=customer_id, reason=reason)


def _expired_jobs(session: Session, now: datetime, limit: int) -> list[ScreeningJob]:
    held = held_customers()
    return list(
        session.execute(
            select(ScreeningJob)
            .where(
                ScreeningJob.retention_until <= now,
                ScreeningJob.legal_hold.is_(False),
                ScreeningJob.customer_id.not_in(held),
                ScreeningJob.status.in_(("completed", "failed")),
            )
            .order_by(ScreeningJob.retention_until)
            .limit(limit)
        ).scalars()
    )


def _delete_job(session: Session, job: ScreeningJob, now: datetime) -> None:
    hits = session.execute(delete(Hit).where(Hit.job_id == job.id))
    parties = session.execute(delete(Party).where(Party.job_id == job.id))
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.job_id == job.id))
    details = {"hits": int(getattr(hits, "rowcount", 0) or 0), "parties": int(getattr(parties, "rowcount", 0) or 0)}
    session.execute(delete(ScreeningJob).where(ScreeningJob.id == job.id))
    session.add(
        PurgeLog(
            at=now, object_type="screening_job", object_id=job.id, retention_until=job.retention_until, details=details
        )
    )
    audit.record(
        session,
        actor=PURGE_ACTOR,
        action="retention.delete",
        object_type="screening_job",
        object_id=job.id,
        purpose="retention",
        details=details,
    )
    log.info("retention.deleted", object_type="screening_job", object_id=job.id, **details)


def _expired_customers(session: Session, now: datetime) -> list[Customer]:
    has_jobs = exists().where(ScreeningJob.customer_id == Customer.id)
    return list(
        session.execute(
            select(Customer).where(Customer.retention_until <= now, Customer.id.not_in(held_customers()), ~has_jobs)
        ).scalars()
    )


def purge_expired(session: Session, now: datetime | None = None, limit: int = 1000) -> PurgeResult:
    """Delete expired, unheld screening jobs (with their parties, hits and deliveries), then emptied customers."""
    moment = now or utcnow()
    _log_implicit_holds(session, moment)
    jobs = _expired_jobs(session, moment, limit)
    for job in jobs:
        _delete_job(session, job, moment)
    session.flush()
    customers = _expired_customers(session, moment)
    for customer in customers:
        session.execute(delete(Customer).where(Customer.id == customer.id))
        session.add(
            PurgeLog(at=moment, object_type="customer", object_id=customer.id, retention_until=customer.retention_until)
        )
        audit.record(
            session,
            actor=PURGE_ACTOR,
            action="retention.delete",
            object_type="customer",
            object_id=customer.id,
            purpose="retention",
        )
        log.info("retention.deleted", object_type="customer", object_id=customer.id)
    return PurgeResult(len(jobs), len(customers))
