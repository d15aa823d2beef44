"""Decisions on cases: one verdict and reason applied to every hit of the case that awaits it.

Each hit keeps its own decision row (``kyc.review.decisions``); the case records the verdict once more with the hits
it covered. Four eyes applies as for hits, by the case's strictest hit: when dismissing any of them needs a second
officer, dismissing the case does. An approver's verdict answers the case's proposals (the same verdict approves,
another rejects); the proposer of a hit cannot approve it. A bulk decision is one decision per case, each in its own
savepoint, so one refused case does not undo the others.

The ownership-and-control case (``kyc.ownership``) has no hits: its verdict moves the case itself, always with four
eyes, and its confirmation treats the customer as designated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc import audit, cases, ownership
from kyc.access import Permission, Principal
from kyc.errors import KycError
from kyc.hits import HitStatus
from kyc.review import four_eyes
from kyc.review.cases import get_case
from kyc.review.decisions import DecisionResult, decide_hit, reason_text
from kyc.review.errors import DecisionRefused, ReviewError
from kyc.review.four_eyes import PROPOSALS, Verdict
from kyc.storage.base import utcnow
from kyc.storage.cases import Case, CaseDecision
from kyc.storage.hits import Hit

MAX_BULK = 200


@dataclass
class CaseDecisionResult:
    case_id: str
    decision_id: int
    decision: str
    status: str
    verdict: str | None
    four_eyes: bool
    hits: list[DecisionResult] = field(default_factory=list)
    customer_outcome: str | None = None
    customer_blocked: bool = False
    notify_jobs: list[str] = field(default_factory=list)
    """Jobs whose outcome the decision changed: their callbacks are owed (send after the commit)."""


def _second_round(case: Case, hits: Sequence[Hit], verdict: Verdict, principal: Principal) -> bool:
    """Does this verdict answer the case's proposals (rather than propose on its open hits)?"""
    if verdict in (Verdict.APPROVE, Verdict.REJECT):
        return True
    proposed = any(hit.status == HitStatus.PROPOSED for hit in hits) or case.status == cases.CaseStatus.PROPOSED
    return proposed and principal.can(Permission.APPROVE_DECISION) and not principal.can(Permission.PROPOSE_DECISION)


def decide_case(
    session: Session,
    case_id: str,
    verdict: Verdict | str,
    reason: str,
    principal: Principal,
    *,
    high_score: float,
    ownership_threshold: float = 0.5,
    now: datetime | None = None,
) -> CaseDecisionResult:
    """Record one decision on a case and apply it to its hits. Raises NotFound, Invalid (reason), ReviewError
    (nothing awaits this decision) or DecisionRefused (role, or four eyes)."""
    wanted = Verdict(verdict)
    text = reason_text(reason)
    moment = now or utcnow()
    case = get_case(session, case_id, lock=True)
    if case.basis == ownership.BASIS:
        return _ownership_decision(session, case, wanted, text, principal, moment)
    hits = list(
        session.execute(
            select(Hit).where(Hit.case_id == case.id).order_by(Hit.created_at, Hit.id).with_for_update()
        ).scalars()
    )
    before = case.status
    second = _second_round(case, hits, wanted, principal)
    needed = Permission.APPROVE_DECISION if second else Permission.PROPOSE_DECISION
    if not principal.can(needed):
        raise DecisionRefused(f"role {principal.role.value} lacks permission {needed.value} for {wanted.value}")
    if second:
        targets = [hit for hit in hits if hit.status == HitStatus.PROPOSED]
    else:
        targets = [hit for hit in hits if hit.status in four_eyes.DECIDABLE]
    if not targets:
        raise ReviewError(f"case {case.id} is {case.status}: no hit awaits a {wanted.value} decision")
    strict = wanted in PROPOSALS and any(
        four_eyes.needs_four_eyes(hit.kind, hit.score, wanted, high_score) for hit in targets
    )
    results = [
        decide_hit(
            session, hit, wanted, text, principal, high_score=high_score, strict=strict, case_id=case.id, now=moment
        )
        for hit in targets
    ]
    cases.refresh(session, [case.id], moment)
    four = any(result.four_eyes for result in results)
    row = _record(session, case, wanted.value, text, principal, before, four, [r.hit_id for r in results], moment)
    last = results[-1]
    owned = ownership.evaluate(session, case.job_id, ownership_threshold, moment)
    audit.record(
        session,
        actor=principal,
        action="case.decision",
        object_type="case",
        object_id=case.id,
        details={
            "decision": wanted.value,
            "status_before": before,
            "status_after": case.status,
            "four_eyes": four,
            "hits": len(results),
            "ownership_case": owned,
        },
    )
    return CaseDecisionResult(
        case.id,
        row.id,
        wanted.value,
        case.status,
        case.verdict,
        four,
        results,
        last.customer_outcome,
        last.customer_blocked,
        sorted({r.job_id for r in results if r.job_id and r.outcome_changed}),
    )


def _record(
    session: Session,
    case: Case,
    decision: str,
    reason: str,
    principal: Principal,
    before: str,
    four: bool,
    hit_ids: list[str],
    moment: datetime,
) -> CaseDecision:
    row = CaseDecision(
        case_id=case.id,
        decision=decision,
        reason=reason,
        user_id=principal.user_id,
        user_name=principal.name,
        role=principal.role.value,
        status_before=before,
        status_after=case.status,
        four_eyes=four,
        hit_ids=hit_ids,
        created_at=moment,
    )
    session.add(row)
    session.flush()
    return row


def _last_proposal(session: Session, case: Case) -> CaseDecision | None:
    return session.execute(
        select(CaseDecision)
        .where(CaseDecision.case_id == case.id, CaseDecision.status_after == cases.CaseStatus.PROPOSED.value)
        .order_by(CaseDecision.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _ownership_decision(
    session: Session, case: Case, verdict: Verdict, text: str, principal: Principal, moment: datetime
) -> CaseDecisionResult:
    """Four eyes on every verdict but an escalation: no adverse outcome is ever automatic."""
    before = case.status
    if case.status == cases.CaseStatus.PROPOSED:
        proposal = _last_proposal(session, case)
        verdict = four_eyes.as_second_decision(
            verdict,
            proposal.decision if proposal else None,
            can_propose=principal.can(Permission.PROPOSE_DECISION),
            can_approve=principal.can(Permission.APPROVE_DECISION),
        )
        if verdict not in (Verdict.APPROVE, Verdict.REJECT):
            raise ReviewError(f"case {case.id} is proposed: an approver gives the second decision")
        if not principal.can(Permission.APPROVE_DECISION):
            raise DecisionRefused(f"role {principal.role.value} cannot give the second decision")
        if proposal is None or proposal.user_id == principal.user_id:
            raise DecisionRefused("four eyes: the officer who proposed a decision cannot also approve or reject it")
        if verdict is Verdict.REJECT:
            case.status = cases.CaseStatus.OPEN.value
        else:
            case.status, case.verdict, case.closed_at = cases.CaseStatus.CLOSED.value, proposal.decision, moment
    else:
        if verdict not in PROPOSALS:
            raise ReviewError(f"case {case.id} is {case.status}: there is no proposal to {verdict.value}")
        if case.status == cases.CaseStatus.CLOSED:
            raise ReviewError(f"case {case.id} is closed")
        if not principal.can(Permission.PROPOSE_DECISION):
            raise DecisionRefused(f"role {principal.role.value} lacks permission propose_decision")
        case.status = (cases.CaseStatus.ESCALATED if verdict is Verdict.ESCALATE else cases.CaseStatus.PROPOSED).value
    case.updated_at = moment
    row = _record(session, case, verdict.value, text, principal, before, verdict is not Verdict.ESCALATE, [], moment)
    changed = ownership.apply_verdict(session, case, principal, moment)
    audit.record(
        session,
        actor=principal,
        action="case.decision",
        object_type="case",
        object_id=case.id,
        details={"decision": verdict.value, "status_before": before, "status_after": case.status, "basis": case.basis},
    )
    customer = changed.customer
    return CaseDecisionResult(
        case.id,
        row.id,
        verdict.value,
        case.status,
        case.verdict,
        True,
        [],
        customer.outcome if customer else None,
        bool(customer and customer.blocked_at),
        changed.notify_jobs,
    )


@dataclass(frozen=True)
class BulkItem:
    case_id: str
    ok: bool
    result: CaseDecisionResult | None = None
    error: str | None = None
    code: str | None = None


def decide_cases(
    session: Session,
    case_ids: Sequence[str],
    verdict: Verdict | str,
    reason: str,
    principal: Principal,
    *,
    high_score: float,
    ownership_threshold: float = 0.5,
) -> list[BulkItem]:
    """The same verdict and reason on each case, four eyes per case; a case that refuses is reported, not fatal."""
    text = reason_text(reason)
    unique = list(dict.fromkeys(case_ids))
    if not unique or len(unique) > MAX_BULK:
        raise ReviewError(f"case_ids: 1 to {MAX_BULK} cases per bulk decision")
    items = []
    for case_id in unique:
        try:
            with session.begin_nested():
                result = decide_case(
                    session,
                    case_id,
                    verdict,
                    text,
                    principal,
                    high_score=high_score,
                    ownership_threshold=ownership_threshold,
                )
            items.append(BulkItem(case_id, True, result))
        except KycError as exc:
            items.append(BulkItem(case_id, False, error=str(exc), code=type(exc).__name__))
            audit.record(
                session,
                actor=principal,
                action="case.decision.refused",
                object_type="case",
                object_id=case_id,
                purpose="security",
                details={"decision": str(verdict), "reason": str(exc)[:200], "bulk": True},
            )
    audit.record(
        session,
        actor=principal,
        action="case.bulk_decision",
        object_type="case",
        object_id="*",
        details={
            "decision": str(Verdict(verdict).value),
            "cases": len(unique),
            "decided": sum(1 for item in items if item.ok),
        },
    )
    return items
