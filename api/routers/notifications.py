"""``/v1/notifications``: the authority notifications a confirmed sanctions match raised, and recording them as sent.

A confirmed sanctions match (two officers' decisions) blocks the customer and records a notification to the
authority (``kyc.review.decisions``). Reporting is done outside this service; an officer records here when it was
sent and the authority's reference. Until then the case is held from the retention purge and its block cannot be
lifted (``api.routers.blocks``). Orchestration only: the rules live in ``kyc.review``; every call is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.auth import require
from api.deps import SessionDep
from api.params import DbId, SingleLineText
from kyc import audit, review
from kyc.access import Permission, Principal

router = APIRouter(prefix="/v1/notifications", tags=["review"])
Reader = Annotated[Principal, Depends(require(Permission.READ_HITS))]
Recorder = Annotated[Principal, Depends(require(Permission.RECORD_NOTIFICATION))]


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: str
    hit_id: str | None
    authority: str
    source: str
    source_ref: str
    status: str
    created_by: str = Field(description="The approver whose decision confirmed the match.")
    created_at: datetime
    sent_at: datetime | None
    reference: str | None
    sent_by: str | None = Field(description="Who recorded it as sent (user id).")
    sent_by_name: str | None
    sent_recorded_at: datetime | None


class Notifications(BaseModel):
    notifications: list[NotificationOut]


class SentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: SingleLineText = Field(
        min_length=1, max_length=review.MAX_REFERENCE, description="The authority's reference."
    )
    sent_at: AwareDatetime | None = Field(default=None, description="When it was sent (default: now).")


@router.get("", response_model=Notifications)
def list_notifications(
    principal: Reader,
    session: SessionDep,
    status: Annotated[Literal["pending", "sent", "all"], Query()] = "pending",
) -> Notifications:
    """Authority notifications, oldest first: by default those still to be sent (analyst, approver, auditor)."""
    rows = review.notifications(session, None if status == "all" else status)
    audit.record(
        session,
        actor=principal,
        action="notifications.read",
        object_type="authority_notification",
        object_id="*",
        details={"status": status, "returned": len(rows)},
    )
    return Notifications(notifications=[NotificationOut.model_validate(row) for row in rows])


@router.post(
    "/{notification_id}/sent",
    response_model=NotificationOut,
    responses={409: {"description": "Already recorded as sent"}},
)
def record_sent(notification_id: DbId, body: SentIn, principal: Recorder, session: SessionDep) -> NotificationOut:
    """Record that the notification was sent to the authority (analyst or approver): who (the caller), when, and
    the authority's reference."""
    note = review.mark_notification_sent(
        session, notification_id, principal, reference=body.reference, sent_at=body.sent_at
    )
    return NotificationOut.model_validate(note)
