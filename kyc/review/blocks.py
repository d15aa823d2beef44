"""Lifting an asset-freeze block: two officers and a ground, after the report.

A confirmed sanctions match blocks the customer (``kyc.review.decisions``). The block ends only when an analyst or
approver asks with a ground and a reason and an approver other than the asker approves; the authority
notification must have been recorded as sent first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kyc import audit, outcome
from kyc.access import Permission, Principal
from kyc.errors import Invalid, NotFound
from kyc.review.decisions import confirmed_sanction_hits, overturn, reason_text
from kyc.review.errors import DecisionRefused, ReviewError
from kyc.review.notifications import NOTIFICATION_PENDING, reference_text
from kyc.storage.base import utcnow
from kyc.storage.hits import AuthorityNotification, BlockLift
from kyc.storage.jobs import Customer, ScreeningJob


class LiftGround(StrEnum):
    """Why a block may end. Either way the sanctions hits that froze the customer must no longer stand:

    * ``delisted`` — every confirmed sanctions hit of the customer was delisted (its entry left the list, as
      monitoring records); checked when asked and again when approved;
    * ``confirmed_in_error`` — the confirmation itself was wrong: on approval each confirmed sanctions hit of the
      customer is overturned (a decision row ``overturn`` by the approver, status ``dismissed``, suppressed like a
      dismissal) in the same transaction.

    A licence or partial release by the authority is not a ground: the person stays designated and the customer
    stays blocked (and so neither ended nor purged) as long as a confirmed sanctions hit stands.
    """

    DELISTED = "delisted"
    CONFIRMED_IN_ERROR = "confirmed_in_error"


class LiftStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


LIFT_REQUESTED, LIFT_APPROVED, LIFT_REJECTED = (s.value for s in LiftStatus)


def _check_ground(session: Session, customer_id: str, ground: LiftGround) -> None:
    if ground is LiftGround.DELISTED:
        standing = confirmed_sanction_hits(session, customer_id)
        if standing:
            raise ReviewError(
                f"ground delisted: {len(standing)} confirmed sanctions hit(s) of the customer are still listed"
            )


def _open_lift(session: Session, customer_id: str, *, other_than: int | None = None) -> BlockLift | None:
    query = select(BlockLift).where(BlockLift.customer_id == customer_id, BlockLift.status == LIFT_REQUESTED)
    if other_than is not None:
        query = query.where(BlockLift.id != other_than)
    return session.execute(query.limit(1)).scalar_one_or_none()


def request_block_lift(
    session: Session,
    customer_id: str,
    ground: LiftGround | str,
    reason: str,
    principal: Principal,
    *,
    reference: str | None = None,
    now: datetime | None = None,
) -> BlockLift:
    """Ask for the customer's block to be lifted (the first of four eyes); an approver other than the requester
    decides with :func:`decide_block_lift`. One open request per customer at a time (checked again after the
    insert, under the write lock; the caller rolls back on any exception)."""
    if not principal.can(Permission.REQUEST_BLOCK_LIFT):
        raise DecisionRefused(f"role {principal.role.value} lacks permission {Permission.REQUEST_BLOCK_LIFT.value}")
    try:
        ground = LiftGround(ground)
    except ValueError as exc:
        raise Invalid(f"ground: one of {', '.join(g.value for g in LiftGround)}", field="ground") from exc
    text, ref = reason_text(reason), reference_text(reference, required=False)
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    if customer.blocked_at is None:
        raise ReviewError(f"customer {customer_id} is not blocked")
    if _open_lift(session, customer_id) is not None:
        raise ReviewError(f"customer {customer_id} already has a block-lift request awaiting a decision")
    _check_ground(session, customer_id, ground)
    lift = BlockLift(
        customer_id=customer_id,
        ground=ground.value,
        reason=text,
        reference=ref,
        status=LIFT_REQUESTED,
        requested_by=principal.user_id,
        requested_by_name=principal.name,
        requested_at=now or utcnow(),
        blocked_at=customer.blocked_at,
    )
    session.add(lift)
    session.flush()
    # Checked again after the insert: on SQLite the row lock above is ignored and two askers can both have seen no
    # open request, but the insert holds the write lock, so the later one sees the earlier one's committed row here.
    if _open_lift(session, customer_id, other_than=lift.id) is not None:
        raise ReviewError(f"customer {customer_id} already has a block-lift request awaiting a decision")
    audit.record(
        session,
        actor=principal,
        action="customer.block.lift_requested",
        object_type="customer",
        object_id=customer_id,
        details={"lift_id": lift.id, "ground": ground.value, "reference": ref},
    )
    return lift


def block_lifts(session: Session, customer_id: str) -> Sequence[BlockLift]:
    return (
        session.execute(select(BlockLift).where(BlockLift.customer_id == customer_id).order_by(BlockLift.id))
        .scalars()
        .all()
    )


def _claim_lift(
    session: Session, lift: BlockLift, status: str, principal: Principal, text: str, moment: datetime
) -> None:
    result = session.execute(
        update(BlockLift)
        .where(BlockLift.id == lift.id, BlockLift.status == LIFT_REQUESTED)
        .values(
            status=status,
            decided_by=principal.user_id,
            decided_by_name=principal.name,
            decided_at=moment,
            decision_reason=text,
        )
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        raise ReviewError(f"block-lift request {lift.id} is already {lift.status}")


def decide_block_lift(
    session: Session,
    lift_id: int,
    decision: str,
    reason: str,
    principal: Principal,
    *,
    customer_id: str | None = None,
    now: datetime | None = None,
) -> BlockLift:
    """The second officer's answer to a block-lift request: ``approve`` lifts the block (and, for
    ``confirmed_in_error``, overturns the confirmed sanctions hits), ``reject`` leaves it. Refused when the
    approver asked for it (four eyes), while an authority notification of the customer is still pending (the
    freeze is reported before it ends), and when a sanctions match of the customer was confirmed after the request
    was made (the request's ground and reason are about the matches known then; the approval would otherwise
    overturn or ignore a match neither officer looked at, because an already blocked customer keeps its
    ``blocked_at``: ask again). The caller rolls back on any error.

    The request's status changes first, by a conditional UPDATE, and only then are the customer, its notifications
    and the ground read: so two approvers cannot both decide, and on SQLite (which ignores ``SELECT … FOR
    UPDATE``) the checks run under the write lock, where no decision confirming another match can commit between
    them and the lift."""
    if not principal.can(Permission.APPROVE_BLOCK_LIFT):
        raise DecisionRefused(f"role {principal.role.value} lacks permission {Permission.APPROVE_BLOCK_LIFT.value}")
    if decision not in ("approve", "reject"):
        raise Invalid("decision: approve or reject", field="decision")
    text = reason_text(reason)
    moment = now or utcnow()
    lift = session.get(BlockLift, lift_id, with_for_update=True)
    if lift is None or (customer_id is not None and lift.customer_id != customer_id):
        raise NotFound(f"block-lift request {lift_id} not found")
    if lift.requested_by == principal.user_id:
        raise DecisionRefused("four eyes: the officer who asked for lifting a block cannot also decide on it")
    approve = decision == "approve"
    _claim_lift(session, lift, LIFT_APPROVED if approve else LIFT_REJECTED, principal, text, moment)
    customer = session.get(Customer, lift.customer_id, with_for_update=True)
    assert customer is not None  # foreign key
    overturned = _lift(session, customer, lift, principal, text, moment) if approve else []
    session.refresh(lift)
    audit.record(
        session,
        actor=principal,
        action="customer.block.lift" if approve else "customer.block.lift_rejected",
        object_type="customer",
        object_id=customer.id,
        details={
            "lift_id": lift.id,
            "ground": lift.ground,
            "requested_by": lift.requested_by,
            "overturned_hits": overturned,
        },
    )
    return lift


def _lift(
    session: Session, customer: Customer, lift: BlockLift, principal: Principal, text: str, moment: datetime
) -> list[str]:
    _check_still_liftable(session, customer, lift)
    overturned: list[str] = []
    if lift.ground == LiftGround.CONFIRMED_IN_ERROR:
        asked = f"block lift {lift.id} ({lift.ground}), asked by {lift.requested_by_name}: {lift.reason}"
        why = f"{asked}\napproved: {text}"
        overturned = overturn(session, customer, principal, why, moment, lift_id=lift.id)
    customer.blocked_at = None
    job_id = outcome.current_job_id(session, customer.id)
    job = session.get(ScreeningJob, job_id) if job_id else None
    if job is not None:
        outcome.refresh(session, job)
    return overturned


def _check_still_liftable(session: Session, customer: Customer, lift: BlockLift) -> None:
    """What must still hold when a lift is approved (see :func:`decide_block_lift`); raises :class:`ReviewError`."""
    if customer.blocked_at is None or customer.blocked_at != lift.blocked_at:
        raise ReviewError("the customer's block changed since the request was made: reject it and ask again")
    notes = session.execute(
        select(AuthorityNotification.id, AuthorityNotification.status, AuthorityNotification.created_at)
        .where(AuthorityNotification.customer_id == customer.id)
        .order_by(AuthorityNotification.id)
    ).all()
    later = [note_id for note_id, _status, created in notes if created > lift.requested_at]
    if later:
        raise ReviewError(
            f"a sanctions match of the customer was confirmed after the request (notification(s) {later}): "
            "reject it and ask again"
        )
    pending = [note_id for note_id, status, _created in notes if status == NOTIFICATION_PENDING]
    if pending:
        raise ReviewError(f"authority notification(s) {pending} still pending: record them as sent first")
    _check_ground(session, customer.id, LiftGround(lift.ground))
