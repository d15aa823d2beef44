"""Authority notifications: a confirmed sanctions match is reported, and an officer records that it was sent.

Finnish freezing measures (Act 1188/2013 and EU/UN sanctions) are reported to the Enforcement Authority. The
notification is raised with the confirming decision; it holds the case in retention until an officer records it as
sent (who, when, the authority's reference). A block still holds the customer until it is lifted
(``kyc.review.blocks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kyc import audit
from kyc.access import Permission, Principal
from kyc.errors import Invalid, NotFound
from kyc.review.errors import DecisionRefused, ReviewError
from kyc.storage.base import utcnow
from kyc.storage.hits import AuthorityNotification, Hit
from kyc.storage.jobs import Customer

AUTHORITY = "Ulosottolaitos (National Enforcement Authority Finland): asset freeze notification"
MAX_REFERENCE = 200
CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a reported sending time may lie (clocks differ a little, not by days)."""


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"


NOTIFICATION_PENDING = NotificationStatus.PENDING.value
NOTIFICATION_SENT = NotificationStatus.SENT.value


def notify_authority(
    session: Session, customer: Customer, hit: Hit, principal: Principal, moment: datetime
) -> AuthorityNotification:
    notification = AuthorityNotification(
        customer_id=customer.id,
        hit_id=hit.id,
        authority=AUTHORITY,
        source=hit.source,
        source_ref=hit.source_ref,
        status=NOTIFICATION_PENDING,
        created_by=principal.user_id,
        created_at=moment,
    )
    session.add(notification)
    session.flush()
    return notification


def notifications(session: Session, status: str | None = NOTIFICATION_PENDING) -> Sequence[AuthorityNotification]:
    """Authority notifications, oldest first; ``status`` None for all of them."""
    query = select(AuthorityNotification).order_by(AuthorityNotification.id)
    if status is not None:
        query = query.where(AuthorityNotification.status == status)
    return session.execute(query).scalars().all()


def pending_notifications(session: Session) -> Sequence[AuthorityNotification]:
    return notifications(session, NOTIFICATION_PENDING)


def of_customer(session: Session, customer_id: str) -> Sequence[AuthorityNotification]:
    return (
        session.execute(
            select(AuthorityNotification)
            .where(AuthorityNotification.customer_id == customer_id)
            .order_by(AuthorityNotification.id)
        )
        .scalars()
        .all()
    )


def reference_text(reference: str | None, *, required: bool) -> str | None:
    cleaned = (reference or "").strip()
    if not cleaned:
        if required:
            raise Invalid("reference: give the authority's reference (case or message number)", field="reference")
        return None
    if len(cleaned) > MAX_REFERENCE:
        raise Invalid(f"reference: at most {MAX_REFERENCE} characters", field="reference")
    return cleaned


def _check_sent_at(when: datetime, moment: datetime, note: AuthorityNotification) -> None:
    if when.tzinfo is None:
        raise Invalid("sent_at: give a time zone", field="sent_at")
    if when > moment + CLOCK_SKEW:
        raise Invalid("sent_at: lies in the future", field="sent_at")
    if when < note.created_at:
        raise Invalid("sent_at: before the notification was raised", field="sent_at")


def mark_notification_sent(
    session: Session,
    notification_id: int,
    principal: Principal,
    *,
    reference: str,
    sent_at: datetime | None = None,
    now: datetime | None = None,
) -> AuthorityNotification:
    """Record that the report to the authority went out: who recorded it, when it was sent, the authority's
    reference. Once sent, the notification no longer holds the case in retention (``kyc.retention``); a block
    still holds it until lifted."""
    if not principal.can(Permission.RECORD_NOTIFICATION):
        raise DecisionRefused(f"role {principal.role.value} lacks permission {Permission.RECORD_NOTIFICATION.value}")
    text = reference_text(reference, required=True)
    moment = now or utcnow()
    note = session.get(AuthorityNotification, notification_id, with_for_update=True)
    if note is None:
        raise NotFound(f"notification {notification_id} not found")
    when = sent_at or moment
    _check_sent_at(when, moment, note)
    result = session.execute(
        update(AuthorityNotification)
        .where(AuthorityNotification.id == note.id, AuthorityNotification.status == NOTIFICATION_PENDING)
        .values(
            status=NOTIFICATION_SENT,
            sent_at=when,
            reference=text,
            sent_by=principal.user_id,
            sent_by_name=principal.name,
            sent_recorded_at=moment,
        )
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        raise ReviewError(f"notification {notification_id} is already recorded as {note.status}")
    session.refresh(note)
    audit.record(
        session,
        actor=principal,
        action="notification.sent",
        object_type="authority_notification",
        object_id=str(note.id),
        details={"customer_id": note.customer_id, "sent_at": when.isoformat(), "reference": text},
    )
    return note
