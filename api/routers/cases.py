"""``/v1/cases``: the case queue, a case with its subject and every listing, assignment, comments and decisions.

Parse, call ``kyc.review.cases`` / ``kyc.review.case_decisions``, respond. A decision's outcome change is handed to
``api.outcomes`` right after the commit, so the onboarding system
hears of it within seconds rather than at the sweeper's next round.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from api import refusals
from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.outcomes import notify
from api.params import FreeText, SingleLineText
from api.schemas import PartyOut
from kyc import audit, review
from kyc.access import Permission, Principal
from kyc.cases import CaseStatus
from kyc.hits import Priority
from kyc.review import case_decisions
from kyc.review import cases as workflow
from kyc.storage.base import utcnow
from kyc.storage.db import transaction

router = APIRouter(prefix="/v1/cases", tags=["cases"])
CaseReader = Annotated[Principal, Depends(require(Permission.READ_HITS))]
CaseWorker = Annotated[Principal, Depends(require(Permission.READ_HITS, Permission.WORK_CASES))]
MAX_OFFSET = 10_000_000


def _decider(principal: CaseReader, settings: SettingsDep) -> Principal:
    """Analysts (first decisions) and approvers (second): anyone else is refused, on record, before the body."""
    if principal.can(Permission.PROPOSE_DECISION) or principal.can(Permission.APPROVE_DECISION):
        return principal
    message = f"role {principal.role.value} cannot decide on cases"
    with transaction(settings.database_url) as session:
        audit.record(
            session,
            actor=principal,
            action="case.decision.refused",
            object_type="case",
            object_id="*",
            purpose="security",
            details={"reason": message},
        )
    raise review.DecisionRefused(message)


Decider = Annotated[Principal, Depends(_decider)]


class CaseItem(BaseModel):
    id: str
    customer_id: str
    job_id: str
    party: dict[str, str]
    subject_key: str
    basis: str
    kind: str
    priority: str
    status: str
    verdict: str | None
    sources: list[str]
    top_score: float
    hits: int
    assignee: str | None
    opened_at: datetime
    due_at: datetime
    overdue: bool
    reopen_reason: str | None


class CasePage(BaseModel):
    cases: list[CaseItem]
    total: int


class CaseHit(BaseModel):
    id: str
    source: str
    source_ref: str
    version_id: int | None
    score: float
    matched_name: str
    query_name: str
    kind: str
    priority: str
    status: str
    origin: str | None
    reopen_reason: str | None
    explanation: dict[str, Any]
    created_at: datetime


class CaseDetail(BaseModel):
    id: str
    customer_id: str
    job_id: str
    party: PartyOut
    subject_key: str
    subject: dict[str, Any] = Field(description="The designated subject with every listing side by side.")
    basis: str
    kind: str
    priority: str
    status: str
    verdict: str | None
    sources: list[str]
    top_score: float
    assignee: str | None
    opened_at: datetime
    due_at: datetime
    overdue: bool
    reopen_reason: str | None
    hits: list[CaseHit]
    comments: list[dict[str, Any]]
    history: list[dict[str, Any]]
    details: dict[str, Any] | None = Field(description="Ownership and control: the parties, shares and basis.")


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: SingleLineText | None = Field(
        None, max_length=128, description="A user name; omitted or ``me``: claim it; ``unassigned``: release it."
    )


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: FreeText = Field(min_length=1, max_length=workflow.MAX_COMMENT)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: review.Verdict
    reason: FreeText = Field(min_length=1, max_length=review.MAX_REASON)


class BulkIn(DecisionIn):
    case_ids: list[Annotated[str, Field(max_length=36)]] = Field(min_length=1, max_length=case_decisions.MAX_BULK)


class DecisionOut(BaseModel):
    case_id: str
    decision_id: int
    decision: str
    status: str
    verdict: str | None
    four_eyes: bool
    awaiting_second_decision: bool
    hits: list[dict[str, Any]]
    customer_outcome: str | None
    customer_blocked: bool


class BulkItemOut(BaseModel):
    case_id: str
    ok: bool
    result: DecisionOut | None = None
    error: str | None = None


class BulkOut(BaseModel):
    results: list[BulkItemOut]
    decided: int


def _item(row: workflow.CaseRow | workflow.CaseView, hits: int, name: str, role: str) -> dict[str, Any]:
    case = row.case
    return {
        "id": case.id,
        "customer_id": case.customer_id,
        "job_id": case.job_id,
        "party": {"id": case.party_id, "name": name, "role": role},
        "subject_key": case.subject_key,
        "basis": case.basis,
        "kind": case.kind,
        "priority": case.priority,
        "status": case.status,
        "verdict": case.verdict,
        "sources": list(case.sources or []),
        "top_score": case.top_score,
        "hits": hits,
        "assignee": case.assignee_name,
        "opened_at": case.opened_at,
        "due_at": row.due_at,
        "overdue": row.overdue,
        "reopen_reason": case.reopen_reason,
    }


@router.get("", response_model=CasePage)
def case_queue(
    principal: CaseReader,
    session: SessionDep,
    settings: SettingsDep,
    status_: Annotated[list[CaseStatus] | None, Query(alias="status")] = None,
    assignee: Annotated[str | None, Query(max_length=128, description="A user name, `me` or `unassigned`.")] = None,
    priority: Priority | None = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> CasePage:
    """Cases waiting for an officer (or those of ``status``), high priority and longest waiting first."""
    wanted = workflow.CaseFilter(
        statuses=[s.value for s in status_ or []],
        assignee=assignee,
        priority=priority.value if priority else None,
        source=source,
        customer_id=customer_id,
        overdue=overdue,
    )
    rows, total = workflow.case_queue(
        session, wanted, principal, sla_hours=settings.case_sla_hours, limit=limit, offset=offset
    )
    return CasePage(
        cases=[CaseItem(**_item(row, row.hit_count, row.party_name, row.party_role)) for row in rows], total=total
    )


def _hit(hit: Any) -> CaseHit:
    return CaseHit(
        id=hit.id,
        source=hit.source,
        source_ref=hit.source_ref,
        version_id=hit.version_id,
        score=hit.score,
        matched_name=hit.matched_name,
        query_name=hit.query_name,
        kind=hit.kind,
        priority=hit.priority,
        status=hit.status,
        origin=hit.origin,
        reopen_reason=hit.reopen_reason,
        explanation=hit.explanation,
        created_at=hit.created_at,
    )


@router.get("/{case_id}", response_model=CaseDetail, response_model_by_alias=True)
def case_detail(case_id: str, principal: CaseReader, session: SessionDep, settings: SettingsDep) -> CaseDetail:
    """The party, the subject with every listing side by side, the hits with explanations, comments, history."""
    view = workflow.case_view(session, case_id, principal, sla_hours=settings.case_sla_hours)
    item = _item(view, len(view.hits), view.party.name, view.party.role)
    item.pop("hits")
    return CaseDetail(
        **{**item, "party": PartyOut.from_party(view.party)},
        subject=asdict(view.subject),
        hits=[_hit(hit) for hit in view.hits],
        comments=[
            {"id": c.id, "user": c.user_name or c.user_id, "text": c.text, "created_at": c.created_at}
            for c in view.comments
        ],
        history=[asdict(item) for item in view.history],
        details=view.case.details,
    )


@router.post("/{case_id}/assign", response_model=CaseItem)
def assign(case_id: str, body: AssignIn, principal: CaseWorker, session: SessionDep, settings: SettingsDep) -> CaseItem:
    """Claim the case, hand it to another analyst or approver, or release it."""
    case = workflow.assign(session, case_id, principal, body.assignee)
    view = workflow.case_view(session, case.id, principal, sla_hours=settings.case_sla_hours)
    return CaseItem(**_item(view, len(view.hits), view.party.name, view.party.role))


@router.post("/{case_id}/comments", status_code=status.HTTP_201_CREATED)
def add_comment(case_id: str, body: CommentIn, principal: CaseWorker, session: SessionDep) -> dict[str, Any]:
    row = workflow.comment(session, case_id, principal, body.text)
    return {"id": row.id, "case_id": row.case_id, "user": row.user_name, "text": row.text, "created_at": row.created_at}


def _out(result: case_decisions.CaseDecisionResult) -> DecisionOut:
    return DecisionOut(
        case_id=result.case_id,
        decision_id=result.decision_id,
        decision=result.decision,
        status=result.status,
        verdict=result.verdict,
        four_eyes=result.four_eyes,
        awaiting_second_decision=result.status == CaseStatus.PROPOSED,
        hits=[{"hit_id": h.hit_id, "status": h.status, "decision_id": h.decision_id} for h in result.hits],
        customer_outcome=result.customer_outcome,
        customer_blocked=result.customer_blocked,
    )


@router.post("/decisions", response_model=BulkOut)
def bulk_decide(
    body: BulkIn, request: Request, principal: Decider, session: SessionDep, settings: SettingsDep
) -> BulkOut:
    """One verdict and reason over the selected cases; four eyes applies per case, and a refused case is reported
    in its row while the others are decided."""
    items = case_decisions.decide_cases(
        session,
        body.case_ids,
        body.decision,
        body.reason,
        principal,
        high_score=settings.four_eyes_score,
        ownership_threshold=settings.ownership_threshold,
    )
    session.commit()
    notify(request, [job for item in items if item.result for job in item.result.notify_jobs])
    return BulkOut(
        results=[
            BulkItemOut(case_id=i.case_id, ok=i.ok, result=_out(i.result) if i.result else None, error=i.error)
            for i in items
        ],
        decided=sum(1 for i in items if i.ok),
    )


@router.post(
    "/{case_id}/decisions",
    response_model=DecisionOut,
    status_code=status.HTTP_201_CREATED,
    responses={403: {"description": "Wrong role for this decision, or four eyes"}, 409: {"description": "Status"}},
)
def decide(
    case_id: str, body: DecisionIn, request: Request, principal: Decider, session: SessionDep, settings: SettingsDep
) -> DecisionOut:
    """The verdict body of hits, applied to every hit of the case that awaits it (four eyes by its strictest)."""
    with refusals.recorded(
        settings,
        session,
        principal,
        action="case.decision.refused",
        object_type="case",
        object_id=case_id,
        details={"decision": body.decision.value},
    ):
        result = case_decisions.decide_case(
            session,
            case_id,
            body.decision,
            body.reason,
            principal,
            high_score=settings.four_eyes_score,
            ownership_threshold=settings.ownership_threshold,
            now=utcnow(),
        )
    session.commit()
    notify(request, result.notify_jobs)
    return _out(result)
