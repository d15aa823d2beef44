"""Officers' decisions on hits: record one, apply it, recompute the outcome.

Decision rows are append-only evidence of who decided what, when and why; a hit's status is derived from them
(``kyc.hits``). The rules of four eyes are pure functions in ``kyc.review.four_eyes``; here they meet the database.
A dismissal creates a suppression; a confirmed sanctions match blocks the customer and raises an authority
notification in the same transaction. No adverse outcome is automatic: ``match``, the block and the notification
follow only from a confirmed ``true_match``, i.e. two different people's decisions. Pure domain logic on a caller's
Session (the caller commits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from kyc import audit, cases, outcome, ownership
from kyc.access import Permission, Principal
from kyc.errors import Invalid, NotFound
from kyc.hits import HitKind, HitStatus
from kyc.review import four_eyes
from kyc.review.errors import DecisionRefused, ReviewError
from kyc.review.four_eyes import PROPOSALS, Verdict
from kyc.review.notifications import notify_authority
from kyc.storage.base import utcnow
from kyc.storage.hits import AuthorityNotification, Hit, HitDecision
from kyc.storage.jobs import Customer, ScreeningJob
from kyc.suppression import suppress

MAX_REASON = 4000
OVERTURN = "overturn"
"""The decision that turns a confirmed match back into a dismissal when a block is lifted as confirmed in error."""


@dataclass(frozen=True)
class DecisionResult:
    hit_id: str
    decision_id: int
    status: str
    four_eyes: bool
    job_outcome: str | None
    customer_outcome: str | None
    customer_blocked: bool
    notification_id: int | None = None
    job_id: str | None = None
    outcome_changed: bool = False
    """The job's outcome changed: its onboarding system is owed a callback (send it after the commit)."""


def reason_text(reason: str) -> str:
    cleaned = reason.strip()
    if not cleaned:
        raise Invalid("reason: a decision needs a reason", field="reason")
    if len(cleaned) > MAX_REASON:
        raise Invalid(f"reason: at most {MAX_REASON} characters", field="reason")
    return cleaned


def history(session: Session, hit_id: str) -> Sequence[HitDecision]:
    return (
        session.execute(select(HitDecision).where(HitDecision.hit_id == hit_id).order_by(HitDecision.id))
        .scalars()
        .all()
    )


def _open_proposal(session: Session, hit_id: str) -> HitDecision | None:
    return session.execute(
        select(HitDecision)
        .where(HitDecision.hit_id == hit_id, HitDecision.status_after == HitStatus.PROPOSED.value)
        .order_by(HitDecision.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _answers_a_decided_proposal(session: Session, hit: Hit, verdict: Verdict, principal: Principal) -> bool:
    """An approver (who makes no first decisions) giving a plain verdict on a hit that is no longer proposed
    because its proposal was just answered: the loser of a race between two approvers. That is a conflict with the
    other approver's decision (re-read the hit), not a lack of permission."""
    if verdict not in PROPOSALS or principal.can(Permission.PROPOSE_DECISION):
        return False
    if not principal.can(Permission.APPROVE_DECISION):
        return False
    latest = session.execute(
        select(HitDecision.proposal_id).where(HitDecision.hit_id == hit.id).order_by(HitDecision.id.desc()).limit(1)
    ).first()
    return latest is not None and latest.proposal_id is not None  # the last decision answered a proposal


def _check_permission(principal: Principal, verdict: Verdict) -> None:
    needed = Permission.PROPOSE_DECISION if verdict in PROPOSALS else Permission.APPROVE_DECISION
    if not principal.can(needed):
        raise DecisionRefused(f"role {principal.role.value} lacks permission {needed.value} for {verdict.value}")


def _first(hit: Hit, verdict: Verdict, high_score: float) -> tuple[HitStatus, bool]:
    if hit.status not in four_eyes.DECIDABLE:
        raise ReviewError(f"hit {hit.id} is {hit.status}: only open or escalated hits take a {verdict.value} decision")
    return four_eyes.first_decision(hit.kind, hit.score, verdict, high_score)


def _second(session: Session, hit: Hit, verdict: Verdict, principal: Principal) -> tuple[HitStatus, int]:
    if hit.status != HitStatus.PROPOSED:
        raise ReviewError(f"hit {hit.id} is {hit.status}: there is no proposal to {verdict.value}")
    proposal = _open_proposal(session, hit.id)
    if proposal is None:
        raise ReviewError(f"hit {hit.id} is proposed but its proposal is missing")
    if proposal.user_id == principal.user_id:
        raise DecisionRefused("four eyes: the officer who proposed a decision cannot also approve or reject it")
    return four_eyes.second_decision(proposal.decision, verdict), proposal.id


def decide(
    session: Session,
    hit_id: str,
    verdict: Verdict | str,
    reason: str,
    principal: Principal,
    *,
    high_score: float,
    ownership_threshold: float = 0.5,
    now: datetime | None = None,
) -> DecisionResult:
    """Record one decision on a hit and apply it. Raises :class:`~kyc.errors.NotFound`,
    :class:`~kyc.errors.Invalid` (reason), :class:`ReviewError` (status) or :class:`DecisionRefused`."""
    text = reason_text(reason)
    hit = session.get(Hit, hit_id, with_for_update=True)
    if hit is None:
        raise NotFound(f"hit {hit_id} not found")
    result = decide_hit(
        session,
        hit,
        Verdict(verdict),
        text,
        principal,
        high_score=high_score,
        ownership_threshold=ownership_threshold,
        now=now,
    )
    if hit.case_id:
        cases.refresh(session, [hit.case_id], now)
    return result


def decide_hit(
    session: Session,
    hit: Hit,
    verdict: Verdict,
    text: str,
    principal: Principal,
    *,
    high_score: float,
    strict: bool = False,
    case_id: str | None = None,
    ownership_threshold: float = 0.5,
    now: datetime | None = None,
) -> DecisionResult:
    """One decision on a locked hit. ``strict``: a dismissal needs a second officer whatever this hit's own kind
    and score (a case is decided by the rule of its strictest hit)."""
    if hit.status == HitStatus.PROPOSED:
        proposal = _open_proposal(session, hit.id)
        verdict = four_eyes.as_second_decision(
            verdict,
            proposal.decision if proposal else None,
            can_propose=principal.can(Permission.PROPOSE_DECISION),
            can_approve=principal.can(Permission.APPROVE_DECISION),
        )
    elif _answers_a_decided_proposal(session, hit, verdict, principal):
        raise ReviewError(f"hit {hit.id} was decided by someone else meanwhile: there is no proposal to answer")
    _check_permission(principal, verdict)
    moment = now or utcnow()
    before = HitStatus(hit.status)
    proposal_id: int | None = None
    if verdict in PROPOSALS:
        after, needs_second = _first(hit, verdict, high_score)
        if strict and verdict is Verdict.FALSE_POSITIVE and after == HitStatus.DISMISSED:
            after, needs_second = HitStatus.PROPOSED, True
    else:
        after, proposal_id = _second(session, hit, verdict, principal)
        needs_second = True
    claim(session, hit, before, after, moment)
    row = _record(session, hit, verdict.value, text, principal, before, after, needs_second, proposal_id, moment)
    return _apply(session, hit, row, principal, moment, case_id, ownership_threshold)


def claim(session: Session, hit: Hit, before: HitStatus, after: HitStatus, moment: datetime) -> None:
    """Move the hit from the status this decision was made on, or refuse: the compare-and-set that makes a decision
    atomic on every database. ``SELECT … FOR UPDATE`` serialises deciders on PostgreSQL, but SQLite ignores it, so
    two approvers could both read ``proposed`` and both record a second decision. The conditional UPDATE runs under
    the database's write lock and re-reads the row there: the second one to get the lock matches no row."""
    result = session.execute(
        update(Hit)
        .where(Hit.id == hit.id, Hit.status == before.value)
        .values(status=after.value, updated_at=moment)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        raise ReviewError(f"hit {hit.id} was decided by someone else meanwhile (it is no longer {before.value})")
    set_committed_value(hit, "status", after.value)
    set_committed_value(hit, "updated_at", moment)


def _record(
    session: Session,
    hit: Hit,
    decision: str,
    reason: str,
    principal: Principal,
    before: HitStatus,
    after: HitStatus,
    four_eyes_used: bool,
    proposal_id: int | None,
    moment: datetime,
) -> HitDecision:
    row = HitDecision(
        hit_id=hit.id,
        decision=decision,
        reason=reason,
        user_id=principal.user_id,
        user_name=principal.name,
        role=principal.role.value,
        proposal_id=proposal_id,
        status_before=before.value,
        status_after=after.value,
        four_eyes=four_eyes_used,
        created_at=moment,
    )
    session.add(row)
    session.flush()
    return row


def _apply(
    session: Session,
    hit: Hit,
    row: HitDecision,
    principal: Principal,
    moment: datetime,
    case_id: str | None = None,
    ownership_threshold: float = 0.5,
) -> DecisionResult:
    job = session.get(ScreeningJob, hit.job_id)
    assert job is not None  # a hit cannot outlive its job (foreign key)
    customer = session.get(Customer, job.customer_id, with_for_update=True)
    assert customer is not None
    notification: AuthorityNotification | None = None
    outcome_before = job.outcome
    if row.status_after == HitStatus.DISMISSED:
        suppress(session, customer.id, hit, row.id, moment)
    if row.status_after == HitStatus.CONFIRMED and hit.kind == HitKind.SANCTION:
        notification = _block(session, customer, hit, principal, moment)
        ownership.evaluate(session, job.id, ownership_threshold, moment)  # owned or controlled by listed persons?
    job_outcome = outcome.refresh(session, job)
    audit.record(
        session,
        actor=principal,
        action="hit.decision",
        object_type="screening_hit",
        object_id=hit.id,
        details={
            "decision": row.decision,
            "status_before": row.status_before,
            "status_after": row.status_after,
            "four_eyes": row.four_eyes,
            "job_id": job.id,
            "job_outcome": job_outcome,
            "notification_id": notification.id if notification else None,
            "case_id": case_id or hit.case_id,
        },
    )
    return DecisionResult(
        hit.id,
        row.id,
        hit.status,
        row.four_eyes,
        job_outcome,
        customer.outcome,
        customer.blocked_at is not None,
        notification.id if notification else None,
        job.id,
        job_outcome != outcome_before,
    )


def _block(
    session: Session, customer: Customer, hit: Hit, principal: Principal, moment: datetime
) -> AuthorityNotification:
    """A confirmed sanctions match freezes the relationship and must be reported: both recorded, same transaction."""
    customer.blocked_at = customer.blocked_at or moment
    notification = notify_authority(session, customer, hit, principal, moment)
    audit.record(
        session,
        actor=principal,
        action="customer.block",
        object_type="customer",
        object_id=customer.id,
        details={"hit_id": hit.id, "source": hit.source, "source_ref": hit.source_ref, "notification": notification.id},
    )
    return notification


def confirmed_sanction_hits(session: Session, customer_id: str) -> list[Hit]:
    return list(
        session.execute(
            select(Hit)
            .join(ScreeningJob, ScreeningJob.id == Hit.job_id)
            .where(
                ScreeningJob.customer_id == customer_id,
                Hit.status == HitStatus.CONFIRMED.value,
                Hit.kind == HitKind.SANCTION.value,
            )
            .order_by(Hit.id)
        ).scalars()
    )


def overturn(
    session: Session, customer: Customer, principal: Principal, reason: str, moment: datetime, *, lift_id: int
) -> list[str]:
    """Confirmed in error: each confirmed sanctions hit of the customer becomes ``dismissed`` with an ``overturn``
    decision naming both officers (``reason`` carries the request and the approval), suppressed like a dismissal."""
    overturned = []
    case_ids: set[str] = set()
    for hit in confirmed_sanction_hits(session, customer.id):
        if hit.case_id:
            case_ids.add(hit.case_id)
        claim(session, hit, HitStatus.CONFIRMED, HitStatus.DISMISSED, moment)
        row = _record(
            session,
            hit,
            OVERTURN,
            reason[:MAX_REASON],
            principal,
            HitStatus.CONFIRMED,
            HitStatus.DISMISSED,
            True,
            None,
            moment,
        )
        suppress(session, customer.id, hit, row.id, moment)
        job = session.get(ScreeningJob, hit.job_id)
        if job is not None:
            outcome.refresh(session, job)
        audit.record(
            session,
            actor=principal,
            action="hit.decision",
            object_type="screening_hit",
            object_id=hit.id,
            details={
                "decision": OVERTURN,
                "status_before": HitStatus.CONFIRMED.value,
                "status_after": HitStatus.DISMISSED.value,
                "lift": lift_id,
            },
        )
        overturned.append(hit.id)
    cases.refresh(session, sorted(case_ids), moment)
    return overturned
