"""The workbench's view of cases (``kyc.review.cases``): one party against one designated subject, with its hits
on every listing of that subject.

The queue and case pages, decisions (one or in bulk), claiming, assigning and comments go through this module, which
calls kyc and shapes what a page shows; the rules (four eyes per case, SLA from ``KYC_CASE_SLA_HOURS``) stay in kyc.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kyc.access import Permission, Principal
from kyc.cases import CaseStatus
from kyc.errors import Invalid
from kyc.review import case_decisions
from kyc.review import cases as workflow
from kyc.review.four_eyes import Verdict
from kyc.settings import Settings
from kyc.storage.base import utcnow
from kyc.text import refuse_forbidden

TABS = ("open", "mine", "unassigned", "awaiting", "escalated", "overdue", "all")
PER_PAGE = 50
PROPOSALS = (Verdict.FALSE_POSITIVE, Verdict.TRUE_MATCH, Verdict.ESCALATE)
SECOND = (Verdict.APPROVE, Verdict.REJECT)
STATUSES = tuple(s.value for s in CaseStatus)


@dataclass(frozen=True)
class QueueQuery:
    tab: str = "open"
    statuses: Sequence[str] = ()
    source: str | None = None
    priority: str | None = None
    customer_id: str | None = None
    page: int = 1


@dataclass(frozen=True)
class CaseRow:
    id: str
    party_name: str
    party_role: str
    customer_id: str
    subject_key: str
    basis: str
    sources: list[str]
    top_score: float
    hits: int
    kind: str
    priority: str
    status: str
    opened_at: datetime
    age_hours: float
    due_at: datetime
    overdue: bool
    assignee: str | None
    proposed_by: str | None


@dataclass(frozen=True)
class QueuePage:
    rows: list[CaseRow]
    total: int
    page: int
    pages: int


def _filter(q: QueueQuery, principal: Principal) -> workflow.CaseFilter:
    statuses: Sequence[str] = [s for s in q.statuses if s in STATUSES]
    assignee: str | None = None
    overdue: bool | None = None
    not_proposed_by: str | None = None
    if q.tab == "mine":
        assignee = workflow.ME
    elif q.tab == "unassigned":
        assignee = workflow.UNASSIGNED
    elif q.tab == "awaiting":
        statuses = [CaseStatus.PROPOSED.value]
        not_proposed_by = principal.user_id
    elif q.tab == "escalated":
        statuses = [CaseStatus.ESCALATED.value]
    elif q.tab == "overdue":
        overdue = True
    elif q.tab == "all" and not statuses:
        statuses = list(STATUSES)
    return workflow.CaseFilter(
        statuses=statuses,
        assignee=assignee,
        priority=q.priority or None,
        source=q.source or None,
        customer_id=q.customer_id or None,
        overdue=overdue,
        not_proposed_by=not_proposed_by,
    )


def queue_page(
    session: Session, principal: Principal, q: QueueQuery, settings: Settings, now: datetime | None = None
) -> QueuePage:
    """A page of the queue. In "awaiting my approval" an approver's own proposals are left out (in the count and the
    pages too): they are not theirs to approve."""
    now = now or utcnow()
    page = max(q.page, 1)
    rows, total = workflow.case_queue(
        session,
        _filter(q, principal),
        principal,
        sla_hours=settings.case_sla_hours,
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
        now=now,
    )
    proposed = workflow.proposers(session, [r.case.id for r in rows if r.case.status == CaseStatus.PROPOSED])
    out = [
        CaseRow(
            id=r.case.id,
            party_name=r.party_name,
            party_role=r.party_role,
            customer_id=r.case.customer_id,
            subject_key=r.case.subject_key,
            basis=r.case.basis,
            sources=list(r.case.sources or []),
            top_score=r.case.top_score,
            hits=r.hit_count,
            kind=r.case.kind,
            priority=r.case.priority,
            status=r.case.status,
            opened_at=r.case.opened_at,
            age_hours=(now - r.case.opened_at).total_seconds() / 3600,
            due_at=r.due_at,
            overdue=r.overdue,
            assignee=r.case.assignee_name,
            proposed_by=(proposed.get(r.case.id) or (None, None))[1],
        )
        for r in rows
    ]
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    return QueuePage(out, total, page, pages)


@dataclass(frozen=True)
class CaseView:
    id: str
    status: str
    verdict: str | None
    kind: str
    basis: str
    priority: str
    top_score: float
    customer_id: str
    party: dict[str, Any]
    subject: Any
    """``kyc.designations.SubjectView``: every listing of the subject, side by side."""
    hits: list[Any]
    comments: list[Any]
    history: list[Any]
    assignee: str | None
    proposal: dict[str, Any] | None
    """The open proposal awaiting a second officer: who and what."""
    verdicts: list[str] = field(default_factory=list)
    """The decisions this principal may give now (never approve on their own proposal)."""
    opened_at: datetime | None = None
    due_at: datetime | None = None
    overdue: bool = False
    reopen_reason: str | None = None


def _party(party: Any) -> dict[str, Any]:
    return {
        "name": party.name,
        "role": party.role,
        "schema": party.schema,
        "birth_date": party.birth_date,
        "nationality": party.nationality,
        "country": party.country,
        "business_id": party.business_id,
        "registration": party.registration,
        "personal_id": party.personal_id_masked,
        "ownership": party.ownership,
        "pep_status": party.pep_status,
    }


def _verdicts(principal: Principal, status: str, proposal: dict[str, Any] | None) -> list[str]:
    if status == CaseStatus.PROPOSED:
        mine = proposal is not None and proposal["user_id"] == principal.user_id
        return [v.value for v in SECOND] if principal.can(Permission.APPROVE_DECISION) and not mine else []
    if status != CaseStatus.CLOSED and principal.can(Permission.PROPOSE_DECISION):
        return [v.value for v in PROPOSALS]
    return []


def case(session: Session, case_id: str, principal: Principal, settings: Settings) -> CaseView:
    view = workflow.case_view(session, case_id, principal, sla_hours=settings.case_sla_hours)
    c = view.case
    proposal = None
    if c.status == CaseStatus.PROPOSED:
        last = next(
            (h for h in reversed(view.history) if h.kind == "decision" and h.details.get("status_after") == "proposed"),
            None,
        )
        who = workflow.proposers(session, [c.id]).get(c.id)
        if last is not None and who is not None:
            proposal = {"user_id": who[0], "user_name": who[1], "decision": last.action}
    return CaseView(
        id=c.id,
        status=c.status,
        verdict=c.verdict,
        kind=c.kind,
        basis=c.basis,
        priority=c.priority,
        top_score=c.top_score,
        customer_id=c.customer_id,
        party=_party(view.party),
        subject=view.subject,
        hits=view.hits,
        comments=view.comments,
        history=view.history,
        assignee=c.assignee_name,
        proposal=proposal,
        verdicts=_verdicts(principal, c.status, proposal),
        opened_at=c.opened_at,
        due_at=view.due_at,
        overdue=view.overdue,
        reopen_reason=c.reopen_reason,
    )


def _reason(reason: str) -> str:
    try:
        return refuse_forbidden(reason, multiline=True)
    except ValueError as exc:
        raise Invalid(str(exc), field="reason") from exc


def decide(
    session: Session, case_id: str, verdict: str, reason: str, principal: Principal, settings: Settings
) -> case_decisions.CaseDecisionResult:
    if verdict not in {v.value for v in Verdict}:
        raise Invalid("choose a decision", field="decision")
    return case_decisions.decide_case(
        session,
        case_id,
        verdict,
        _reason(reason),
        principal,
        high_score=settings.four_eyes_score,
        ownership_threshold=settings.ownership_threshold,
    )


def decide_many(
    session: Session, case_ids: Sequence[str], verdict: str, reason: str, principal: Principal, settings: Settings
) -> list[case_decisions.BulkItem]:
    """One verdict with one reason on each case, four eyes per case: a refused case is reported, not fatal."""
    if verdict not in {v.value for v in Verdict}:
        raise Invalid("choose a decision", field="decision")
    return case_decisions.decide_cases(
        session,
        case_ids,
        verdict,
        _reason(reason),
        principal,
        high_score=settings.four_eyes_score,
        ownership_threshold=settings.ownership_threshold,
    )


def claim(session: Session, case_ids: Sequence[str], principal: Principal) -> int:
    for case_id in case_ids:
        workflow.assign(session, case_id, principal, None)
    return len(case_ids)


def assign(session: Session, case_id: str, principal: Principal, assignee: str) -> None:
    workflow.assign(session, case_id, principal, assignee.strip() or None)


def comment(session: Session, case_id: str, principal: Principal, text: str) -> None:
    try:
        cleaned = refuse_forbidden(text, multiline=True)
    except ValueError as exc:
        raise Invalid(str(exc), field="text") from exc
    workflow.comment(session, case_id, principal, cleaned)
