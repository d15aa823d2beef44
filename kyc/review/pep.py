"""Senior management decides on a PEP relationship: approve (the relationship may go ahead under enhanced due
diligence) or refuse (onboarding ends with that reason). Recorded with the reason and audited; the outcome follows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc import audit, outcome
from kyc.access import Permission, Principal
from kyc.customers import EndRefused, end_relationship
from kyc.errors import Invalid, NotFound
from kyc.pep_approvals import ApprovalStatus
from kyc.review.decisions import reason_text
from kyc.review.errors import DecisionRefused, ReviewError
from kyc.storage.base import utcnow
from kyc.storage.cases import PepApproval
from kyc.storage.jobs import Customer, Party, ScreeningJob


class PepDecision(StrEnum):
    APPROVE = "approve"
    REFUSE = "refuse"


@dataclass(frozen=True)
class ApprovalView:
    approval: PepApproval
    party_name: str
    party_role: str


def approvals(
    session: Session, principal: Principal, status: str | None = ApprovalStatus.REQUESTED
) -> list[ApprovalView]:
    """PEP relationship approvals (``status`` None: all), oldest first, with the person and the PEP basis."""
    query = select(PepApproval, Party.name, Party.role).join(Party, Party.id == PepApproval.party_id)
    if status:
        query = query.where(PepApproval.status == status)
    rows = [ApprovalView(a, name, role) for a, name, role in session.execute(query.order_by(PepApproval.id))]
    audit.record(
        session,
        actor=principal,
        action="pep_approvals.read",
        object_type="pep_approval",
        object_id="*",
        details={"status": status, "returned": len(rows)},
    )
    return rows


@dataclass(frozen=True)
class PepDecisionResult:
    approval: PepApproval
    job_outcome: str | None
    customer_outcome: str | None
    notify_jobs: Sequence[str]


def decide(
    session: Session,
    approval_id: int,
    decision: PepDecision | str,
    reason: str,
    principal: Principal,
    *,
    retention_years: int,
    now: datetime | None = None,
) -> PepDecisionResult:
    """Approve or refuse; only senior management may. A refusal ends the customer relationship (retention starts)
    when nothing else holds it open; the reason is kept on the customer either way."""
    if not principal.can(Permission.APPROVE_PEP):
        raise DecisionRefused(f"role {principal.role.value} cannot approve PEP relationships")
    try:
        verdict = PepDecision(decision)
    except ValueError as exc:
        raise Invalid("decision: approve or refuse", field="decision") from exc
    text = reason_text(reason)
    row = session.get(PepApproval, approval_id, with_for_update=True)
    if row is None:
        raise NotFound(f"PEP approval {approval_id} not found")
    if row.status != ApprovalStatus.REQUESTED:
        raise ReviewError(f"PEP approval {approval_id} is already {row.status}")
    moment = now or utcnow()
    row.status = ApprovalStatus.APPROVED if verdict is PepDecision.APPROVE else ApprovalStatus.REFUSED
    row.decided_by, row.decided_by_name, row.decided_at, row.reason = principal.user_id, principal.name, moment, text
    session.flush()
    job = session.get(ScreeningJob, row.job_id)
    customer = session.get(Customer, row.customer_id, with_for_update=True)
    assert job is not None and customer is not None  # foreign keys
    before = job.outcome
    if verdict is PepDecision.REFUSE:
        customer.refused_reason = f"PEP relationship refused by senior management: {text}"[:4000]
        # While hits still await officers the relationship cannot end yet; the refusal stands on the customer.
        with contextlib.suppress(EndRefused):
            end_relationship(session, customer.id, moment, retention_years, moment)
    after = outcome.refresh(session, job)
    audit.record(
        session,
        actor=principal,
        action="pep_approval.decision",
        object_type="pep_approval",
        object_id=str(row.id),
        details={"decision": verdict.value, "customer_id": customer.id, "job_outcome": after},
    )
    return PepDecisionResult(row, after, customer.outcome, [job.id] if after != before and job.callback_url else [])


def party_of(session: Session, approval: PepApproval) -> tuple[str, str]:
    party = session.get(Party, approval.party_id)
    return (party.name, party.role) if party else ("", "")
