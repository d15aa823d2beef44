"""The case queue and a case's workflow: filtering and paging, detail, claiming and assigning, comments.

Functions for the JSON routers and the workbench alike: each takes a Session and a Principal, audits what it reads
or does, and returns plain dataclasses (the caller commits). The SLA clock of a case runs from ``opened_at`` (its
creation or its last reopening) for the hours its priority allows (``KYC_CASE_SLA_HOURS``); ``overdue`` filters on
it on every database, priority by priority.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session

from kyc import audit, designations
from kyc.access import Permission, Principal, Role, can
from kyc.cases import CaseStatus, event
from kyc.errors import Invalid, NotFound
from kyc.hits import Priority
from kyc.review.errors import DecisionRefused, ReviewError
from kyc.storage.access import User
from kyc.storage.base import utcnow
from kyc.storage.cases import Case, CaseComment, CaseDecision, CaseEvent
from kyc.storage.hits import Hit, HitDecision
from kyc.storage.jobs import Party

MAX_COMMENT = 4000
WAITING_CLAUSE = text("cases.status <> 'closed'")
UNASSIGNED = "unassigned"
"""The ``assignee`` filter for cases nobody has claimed."""
ME = "me"


@dataclass(frozen=True)
class CaseFilter:
    statuses: Sequence[str] = ()
    """Empty: every case still waiting for an officer (open, in review, proposed, escalated)."""
    assignee: str | None = None
    """A user name, ``me`` or ``unassigned``."""
    priority: str | None = None
    source: str | None = None
    customer_id: str | None = None
    overdue: bool | None = None
    not_proposed_by: str | None = None
    """A user id: leave out the cases whose open proposal is theirs (not theirs to approve)."""


@dataclass(frozen=True)
class CaseRow:
    case: Case
    party_name: str
    party_role: str
    hit_count: int
    due_at: datetime
    overdue: bool


def due_at(case: Case, sla_hours: Mapping[str, float]) -> datetime:
    return case.opened_at + timedelta(hours=float(sla_hours.get(case.priority, sla_hours.get("normal", 72.0))))


def _overdue_clause(sla_hours: Mapping[str, float], now: datetime) -> Any:
    known = [Priority.HIGH.value, Priority.NORMAL.value]
    parts = [
        and_(Case.priority == priority, Case.opened_at <= now - timedelta(hours=float(sla_hours.get(priority, 72.0))))
        for priority in known
    ]
    return and_(WAITING_CLAUSE, or_(*parts))


def _conditions(wanted: CaseFilter, principal: Principal, sla_hours: Mapping[str, float], now: datetime) -> list[Any]:
    # The waiting queue is spelled as the partial index ``ix_cases_waiting`` is, so the database walks it.
    found: list[Any] = [Case.status.in_(list(wanted.statuses)) if wanted.statuses else WAITING_CLAUSE]
    if wanted.assignee == UNASSIGNED:
        found.append(Case.assignee_id.is_(None))
    elif wanted.assignee == ME:
        found.append(Case.assignee_id == principal.user_id)
    elif wanted.assignee:
        found.append(Case.assignee_name == wanted.assignee)
    if wanted.priority:
        found.append(Case.priority == wanted.priority)
    if wanted.source:
        found.append(Case.source_filter.contains(f"|{wanted.source}|", autoescape=True))
    if wanted.customer_id:
        found.append(Case.customer_id == wanted.customer_id)
    if wanted.not_proposed_by:
        proposer = (
            select(CaseDecision.user_id)
            .where(CaseDecision.case_id == Case.id, CaseDecision.status_after == CaseStatus.PROPOSED.value)
            .order_by(CaseDecision.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        found.append(func.coalesce(proposer, "") != wanted.not_proposed_by)
    if wanted.overdue is True:
        found.append(_overdue_clause(sla_hours, now))
    elif wanted.overdue is False:
        found.append(~_overdue_clause(sla_hours, now))
    return found


def case_queue(
    session: Session,
    wanted: CaseFilter,
    principal: Principal,
    *,
    sla_hours: Mapping[str, float],
    limit: int,
    offset: int,
    now: datetime | None = None,
) -> tuple[list[CaseRow], int]:
    """A page of cases, high priority and longest waiting first, and the total matching the filters.

    ``high`` sorts before ``normal``: ordering by the column itself lets the database walk the queue's index."""
    moment = now or utcnow()
    conditions = _conditions(wanted, principal, sla_hours, moment)
    total = session.execute(select(func.count()).select_from(Case).where(*conditions)).scalar_one()
    rows = session.execute(
        select(Case, Party.name, Party.role)
        .join(Party, Party.id == Case.party_id)
        .where(*conditions)
        .order_by(Case.priority, Case.opened_at, Case.id)
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [case.id for case, _, _ in rows]
    counts = dict(
        session.execute(select(Hit.case_id, func.count()).where(Hit.case_id.in_(ids)).group_by(Hit.case_id)).all()
        if ids
        else []
    )
    result = []
    for case, name, role in rows:
        due = due_at(case, sla_hours)
        result.append(
            CaseRow(
                case, name, role, int(counts.get(case.id, 0)), due, case.status != CaseStatus.CLOSED and due <= moment
            )
        )
    audit.record(
        session,
        actor=principal,
        action="cases.queue.read",
        object_type="case",
        object_id="*",
        details={
            "returned": len(result),
            "total": int(total),
            "status": list(wanted.statuses),
            "assignee": wanted.assignee,
            "customer_id": wanted.customer_id,
            "overdue": wanted.overdue,
        },
    )
    return result, int(total)


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    kind: str
    """``event`` (the case's own history), ``decision`` (a case decision) or ``hit_decision``."""
    action: str
    actor: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseView:
    case: Case
    party: Party
    subject: designations.SubjectView
    hits: list[Hit]
    comments: list[CaseComment]
    history: list[HistoryItem]
    due_at: datetime
    overdue: bool


def get_case(session: Session, case_id: str, *, lock: bool = False) -> Case:
    case = session.get(Case, case_id, with_for_update=lock)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def _history(session: Session, case: Case, hit_ids: Sequence[str]) -> list[HistoryItem]:
    items = [
        HistoryItem(row.created_at, "event", row.action, row.actor, dict(row.details or {}))
        for row in session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id)).scalars()
    ]
    items += [
        HistoryItem(
            row.created_at,
            "decision",
            row.decision,
            row.user_name or row.user_id,
            {
                "reason": row.reason,
                "status_before": row.status_before,
                "status_after": row.status_after,
                "four_eyes": row.four_eyes,
                "hit_ids": row.hit_ids,
                "role": row.role,
            },
        )
        for row in session.execute(select(CaseDecision).where(CaseDecision.case_id == case.id)).scalars()
    ]
    if hit_ids:
        items += [
            HistoryItem(
                row.created_at,
                "hit_decision",
                row.decision,
                row.user_name or row.user_id,
                {"hit_id": row.hit_id, "status_before": row.status_before, "status_after": row.status_after},
            )
            for row in session.execute(select(HitDecision).where(HitDecision.hit_id.in_(list(hit_ids)))).scalars()
        ]
    return sorted(items, key=lambda item: item.at)


def case_view(
    session: Session, case_id: str, principal: Principal, *, sla_hours: Mapping[str, float], now: datetime | None = None
) -> CaseView:
    """The party, the subject with every listing, the hits with their explanations, comments and history."""
    case = get_case(session, case_id)
    party = session.get(Party, case.party_id)
    assert party is not None  # foreign key
    hits = list(session.execute(select(Hit).where(Hit.case_id == case.id).order_by(Hit.created_at, Hit.id)).scalars())
    subject = (
        designations.subject_of(session, case.subject_key)
        if case.basis == "listing"
        else designations.SubjectView(case.subject_key, "owned or controlled by listed person(s)", "", [])
    )
    comments = list(
        session.execute(select(CaseComment).where(CaseComment.case_id == case.id).order_by(CaseComment.id)).scalars()
    )
    due = due_at(case, sla_hours)
    view = CaseView(
        case,
        party,
        subject,
        hits,
        comments,
        _history(session, case, [hit.id for hit in hits]),
        due,
        case.status != CaseStatus.CLOSED and due <= (now or utcnow()),
    )
    audit.record(session, actor=principal, action="case.read", object_type="case", object_id=case.id)
    return view


def _works_cases(role: Role) -> bool:
    return can(role, Permission.WORK_CASES)


def assign(
    session: Session, case_id: str, principal: Principal, assignee: str | None, now: datetime | None = None
) -> Case:
    """Claim a case (``assignee`` None or ``me``), hand it to another analyst or approver by name, or release it
    (``unassigned``). An open case being worked on is ``in_review``."""
    if not _works_cases(principal.role):
        raise DecisionRefused(f"role {principal.role.value} cannot work on cases")
    case = get_case(session, case_id, lock=True)
    if case.status == CaseStatus.CLOSED:
        raise ReviewError(f"case {case.id} is closed")
    before = case.assignee_name
    if assignee in (None, ME, principal.name):
        case.assignee_id, case.assignee_name = principal.user_id, principal.name
    elif assignee == UNASSIGNED:
        case.assignee_id, case.assignee_name = None, None
    else:
        user = session.execute(select(User).where(User.name == assignee)).scalar_one_or_none()
        if user is None or user.disabled_at is not None or not _works_cases(Role(user.role)):
            raise Invalid("assignee: no active analyst or approver of that name", field="assignee")
        case.assignee_id, case.assignee_name = user.id, user.name
    if case.status in (CaseStatus.OPEN, CaseStatus.IN_REVIEW):
        case.status = (CaseStatus.IN_REVIEW if case.assignee_id else CaseStatus.OPEN).value
    case.updated_at = now or utcnow()
    details = {"from": before, "to": case.assignee_name}
    event(session, case, "assigned", principal.name, details)
    audit.record(session, actor=principal, action="case.assign", object_type="case", object_id=case.id, details=details)
    return case


def comment(
    session: Session, case_id: str, principal: Principal, text: str, now: datetime | None = None
) -> CaseComment:
    if not _works_cases(principal.role):
        raise DecisionRefused(f"role {principal.role.value} cannot comment on cases")
    cleaned = text.strip()
    if not cleaned or len(cleaned) > MAX_COMMENT:
        raise Invalid(f"text: a comment of 1 to {MAX_COMMENT} characters", field="text")
    case = get_case(session, case_id)
    row = CaseComment(
        case_id=case.id, user_id=principal.user_id, user_name=principal.name, text=cleaned, created_at=now or utcnow()
    )
    session.add(row)
    session.flush()
    audit.record(
        session, actor=principal, action="case.comment", object_type="case", object_id=case.id, details={"id": row.id}
    )
    return row


def proposers(session: Session, case_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The officer (user id, name) behind each case's latest proposal: the one who may not give its second decision."""
    if not case_ids:
        return {}
    rows = session.execute(
        select(CaseDecision.case_id, CaseDecision.user_id, CaseDecision.user_name)
        .where(CaseDecision.case_id.in_(list(case_ids)), CaseDecision.status_after == CaseStatus.PROPOSED.value)
        .order_by(CaseDecision.id)
    ).all()
    return {case_id: (user_id, name or user_id) for case_id, user_id, name in rows}
