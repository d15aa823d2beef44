"""``/v1/customers/{id}/block-lifts``: lifting an asset-freeze block takes two officers, a ground and reasons.

A confirmed sanctions match blocks the customer (``kyc.review.decisions``); a blocked customer can be neither ended
nor purged. An analyst or approver asks for the block to be lifted, naming the ground (``delisted``: every
confirmed sanctions hit was delisted; ``confirmed_in_error``: the confirmation is overturned on approval) and a
reason; an approver who did not ask approves or rejects it, with a reason. The approval is refused while an
authority notification of the customer is still pending. Orchestration only (rules in ``kyc.review``); every
action, and every four-eyes refusal (in its own transaction), is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from api import refusals
from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.params import DbId, FreeText, SingleLineText
from kyc import audit, customers, review
from kyc.access import Permission, Principal
from kyc.storage.hits import BlockLift

router = APIRouter(prefix="/v1/customers", tags=["review"])
Reader = Annotated[Principal, Depends(require(Permission.READ_HITS))]
Requester = Annotated[Principal, Depends(require(Permission.REQUEST_BLOCK_LIFT))]
Approver = Annotated[Principal, Depends(require(Permission.APPROVE_BLOCK_LIFT))]


class LiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ground: review.LiftGround
    reason: FreeText = Field(min_length=1, max_length=review.MAX_REASON)
    reference: SingleLineText | None = Field(default=None, max_length=review.MAX_REFERENCE)


class LiftDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    reason: FreeText = Field(min_length=1, max_length=review.MAX_REASON)


class LiftOut(BaseModel):
    id: int
    customer_id: str
    ground: str
    reason: str
    reference: str | None
    status: str
    requested_by: str
    requested_by_name: str | None
    requested_at: datetime
    decided_by: str | None
    decided_by_name: str | None
    decided_at: datetime | None
    decision_reason: str | None
    customer_blocked: bool

    @classmethod
    def of(cls, lift: BlockLift, blocked: bool) -> LiftOut:
        return cls(
            id=lift.id,
            customer_id=lift.customer_id,
            ground=lift.ground,
            reason=lift.reason,
            reference=lift.reference,
            status=lift.status,
            requested_by=lift.requested_by,
            requested_by_name=lift.requested_by_name,
            requested_at=lift.requested_at,
            decided_by=lift.decided_by,
            decided_by_name=lift.decided_by_name,
            decided_at=lift.decided_at,
            decision_reason=lift.decision_reason,
            customer_blocked=blocked,
        )


def _blocked(session: SessionDep, customer_id: str) -> bool:
    return customers.get(session, customer_id).blocked_at is not None


@router.get("/{customer_id}/block-lifts", response_model=list[LiftOut])
def list_lifts(customer_id: str, principal: Reader, session: SessionDep) -> list[LiftOut]:
    """Every block-lift request of the customer with its answer (analyst, approver, auditor)."""
    blocked = _blocked(session, customer_id)
    rows = [LiftOut.of(lift, blocked) for lift in review.block_lifts(session, customer_id)]
    audit.record(
        session, actor=principal, action="customer.block_lifts.read", object_type="customer", object_id=customer_id
    )
    return rows


@router.post(
    "/{customer_id}/block-lifts",
    response_model=LiftOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Not blocked, a request already open, or the ground does not hold"}},
)
def request_lift(customer_id: str, body: LiftIn, principal: Requester, session: SessionDep) -> LiftOut:
    """Ask for the block to be lifted (analyst or approver); another approver decides."""
    lift = review.request_block_lift(
        session, customer_id, body.ground, body.reason, principal, reference=body.reference
    )
    return LiftOut.of(lift, _blocked(session, customer_id))


@router.post(
    "/{customer_id}/block-lifts/{lift_id}/decision",
    response_model=LiftOut,
    responses={403: {"description": "Four eyes"}, 409: {"description": "Already decided or notification pending"}},
)
def decide_lift(
    customer_id: str,
    lift_id: DbId,
    body: LiftDecisionIn,
    principal: Approver,
    session: SessionDep,
    settings: SettingsDep,
) -> LiftOut:
    """Approve (the block is lifted) or reject a request made by somebody else (approvers only)."""
    with refusals.recorded(
        settings,
        session,
        principal,
        action="customer.block.lift_refused",
        object_type="customer",
        object_id=customer_id,
    ):
        lift = review.decide_block_lift(
            session, lift_id, body.decision, body.reason, principal, customer_id=customer_id
        )
    return LiftOut.of(lift, _blocked(session, customer_id))
