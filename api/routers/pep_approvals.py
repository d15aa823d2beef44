"""``/v1/pep-approvals``: senior management approves or refuses relationships with PEPs, family members and close
associates, with a reason; the PEP basis (position, country, dates, source) is shown with each request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api import refusals
from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.outcomes import notify
from api.params import DbId, FreeText
from kyc import review
from kyc.access import Permission, Principal
from kyc.review import pep

router = APIRouter(prefix="/v1/pep-approvals", tags=["pep"])
Reader = Annotated[Principal, Depends(require(Permission.READ_PEP_APPROVALS))]
Approver = Annotated[Principal, Depends(require(Permission.APPROVE_PEP))]


class ApprovalOut(BaseModel):
    id: int
    customer_id: str
    job_id: str
    party_id: str
    party_name: str
    party_role: str
    pep_kind: str
    basis: dict[str, Any] | None = Field(description="Position, country, dates and source of the PEP status.")
    status: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None


class ApprovalList(BaseModel):
    approvals: list[ApprovalOut]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: pep.PepDecision
    reason: FreeText = Field(min_length=1, max_length=review.MAX_REASON)


class DecisionOut(ApprovalOut):
    job_outcome: str | None
    customer_outcome: str | None


def _out(view: pep.ApprovalView) -> dict[str, Any]:
    row = view.approval
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "job_id": row.job_id,
        "party_id": row.party_id,
        "party_name": view.party_name,
        "party_role": view.party_role,
        "pep_kind": row.pep_kind,
        "basis": row.basis,
        "status": row.status,
        "requested_at": row.requested_at,
        "decided_by": row.decided_by_name or row.decided_by,
        "decided_at": row.decided_at,
        "reason": row.reason,
    }


@router.get("", response_model=ApprovalList)
def list_approvals(
    principal: Reader,
    session: SessionDep,
    status: Annotated[Literal["requested", "approved", "refused", "all"], Query()] = "requested",
) -> ApprovalList:
    rows = pep.approvals(session, principal, None if status == "all" else status)
    return ApprovalList(approvals=[ApprovalOut(**_out(view)) for view in rows])


@router.post("/{approval_id}/decision", response_model=DecisionOut)
def decide(
    approval_id: DbId,
    body: DecisionIn,
    request: Request,
    principal: Approver,
    session: SessionDep,
    settings: SettingsDep,
) -> DecisionOut:
    """Approve (the relationship may proceed under enhanced due diligence) or refuse (onboarding ends)."""
    with refusals.recorded(
        settings,
        session,
        principal,
        action="pep_approval.decision.refused",
        object_type="pep_approval",
        object_id=str(approval_id),
        details={"decision": body.decision.value},
    ):
        result = pep.decide(
            session, approval_id, body.decision, body.reason, principal, retention_years=settings.retention_years
        )
    party_name, party_role = pep.party_of(session, result.approval)
    out = DecisionOut(
        **_out(pep.ApprovalView(result.approval, party_name, party_role)),
        job_outcome=result.job_outcome,
        customer_outcome=result.customer_outcome,
    )
    session.commit()
    notify(request, result.notify_jobs)
    return out
