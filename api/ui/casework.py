"""The workbench's view of cases, over today's review core: one case is one hit (``kyc.review``).

The queue and case pages, bulk decisions and claiming go through this module only, so that switching them to
``kyc.cases`` (one party against one subject, holding its hits on every listing) changes this file, not the
templates or the routers. It calls kyc and shapes what a page shows; the rules stay in kyc.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from kyc import audit, overview, review
from kyc.access import Permission, Principal
from kyc.errors import Invalid
from kyc.hits import PENDING, HitStatus
from kyc.review import claims, queue
from kyc.review.four_eyes import Verdict
from kyc.settings import Settings
from kyc.storage.base import utcnow
from kyc.text import refuse_forbidden

TABS = ("open", "mine", "unassigned", "awaiting", "escalated", "overdue", "all")
PER_PAGE = 50
COUNT_UP_TO = 10_000
"""The queue counts its cases up to this many and shows "10000+" beyond: counting 100,000 open hits on every page
view would cost more than the page itself."""
PROPOSALS = (Verdict.FALSE_POSITIVE, Verdict.TRUE_MATCH, Verdict.ESCALATE)
SECOND = (Verdict.APPROVE, Verdict.REJECT)


@dataclass(frozen=True)
class QueueQuery:
    tab: str = "open"
    statuses: Sequence[str] = ()
    source: str | None = None
    min_score: float | None = None
    older_than_hours: float | None = None
    customer_id: str | None = None
    kind: str | None = None
    sort: str = "priority"
    page: int = 1


@dataclass(frozen=True)
class CaseRow:
    id: str
    party_name: str
    party_role: str
    customer_id: str
    source: str
    source_ref: str
    matched_name: str
    score: float
    kind: str
    priority: str
    status: str
    created_at: datetime
    age_hours: float
    sla_hours: float
    overdue: bool
    assignee: str | None
    proposed_by: str | None


@dataclass(frozen=True)
class QueuePage:
    rows: list[CaseRow]
    total: int
    page: int
    pages: int
    more: bool = False
    """More cases than ``total`` says (counting stopped at ``COUNT_UP_TO``)."""


def _filter(principal: Principal, q: QueueQuery) -> queue.QueueFilter:
    statuses: Sequence[str] = q.statuses or [s.value for s in PENDING]
    extra: dict[str, Any] = {}
    if q.tab == "mine":
        extra["assignee_id"] = principal.user_id
    elif q.tab == "unassigned":
        extra["unassigned"] = True
    elif q.tab == "awaiting":
        extra["awaiting_second_from"] = principal.user_id
        statuses = [HitStatus.PROPOSED.value]
    elif q.tab == "escalated":
        statuses = [HitStatus.ESCALATED.value]
    elif q.tab == "overdue":
        extra["overdue_after_hours"] = overview.SLA_HOURS
    elif q.tab == "all":
        statuses = q.statuses
    return queue.QueueFilter(
        statuses=statuses,
        min_score=q.min_score,
        source=q.source or None,
        customer_id=q.customer_id or None,
        older_than=timedelta(hours=q.older_than_hours) if q.older_than_hours is not None else None,
        kinds=[q.kind] if q.kind else (),
        sort=q.sort if q.sort in queue.SORTS else "priority",
        **extra,
    )


def queue_page(session: Session, principal: Principal, q: QueueQuery, now: datetime | None = None) -> QueuePage:
    now = now or utcnow()
    page = max(q.page, 1)
    rows, total = queue.hit_queue(
        session, _filter(principal, q), limit=PER_PAGE, offset=(page - 1) * PER_PAGE, now=now, count_up_to=COUNT_UP_TO
    )
    more = total > COUNT_UP_TO
    total = min(total, COUNT_UP_TO)
    ids = [r.hit.id for r in rows]
    assigned = claims.assignees(session, ids)
    proposed = claims.proposers(session, ids)
    out = [
        CaseRow(
            id=r.hit.id,
            party_name=r.party.name,
            party_role=r.party.role,
            customer_id=r.customer_id,
            source=r.hit.source,
            source_ref=r.hit.source_ref,
            matched_name=r.hit.matched_name,
            score=r.hit.score,
            kind=r.hit.kind,
            priority=r.hit.priority,
            status=r.hit.status,
            created_at=r.hit.created_at,
            age_hours=(now - r.hit.created_at).total_seconds() / 3600,
            sla_hours=overview.sla_hours(r.hit.priority),
            overdue=r.hit.status in PENDING and overview.overdue(r.hit.priority, r.hit.created_at, now),
            assignee=assigned.get(r.hit.id),
            proposed_by=(proposed.get(r.hit.id) or (None, None))[1],
        )
        for r in rows
    ]
    audit.record(
        session,
        actor=principal,
        action="cases.queue.read",
        object_type="screening_hit",
        object_id="*",
        details={"tab": q.tab, "returned": len(out), "total": total, "more": more},
    )
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    return QueuePage(out, total, page, max(pages, page + 1) if more else pages, more)


@dataclass(frozen=True)
class CaseView:
    id: str
    status: str
    kind: str
    priority: str
    score: float
    matched_name: str
    query_name: str
    customer_id: str
    party: dict[str, Any]
    listings: list[dict[str, Any]]
    """Each listing of the subject, beside the party: here the one entry the hit was raised on."""
    explanation: dict[str, Any]
    list_version: dict[str, Any]
    engine_version: str
    config_hash: str
    history: list[dict[str, Any]]
    assignee: str | None
    proposal: dict[str, Any] | None
    """The open proposal awaiting a second officer: who and what."""
    verdicts: list[str] = field(default_factory=list)
    """The decisions this principal may give now (never approve on their own proposal)."""
    four_eyes_to_dismiss: bool = False
    created_at: datetime | None = None
    sla_hours: float = 0.0
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
    if status in (HitStatus.OPEN, HitStatus.ESCALATED) and principal.can(Permission.PROPOSE_DECISION):
        return [v.value for v in PROPOSALS]
    if (
        status == HitStatus.PROPOSED
        and principal.can(Permission.APPROVE_DECISION)
        and proposal is not None
        and proposal["user_id"] != principal.user_id
    ):
        return [v.value for v in SECOND]
    return []


def case(session: Session, case_id: str, principal: Principal, settings: Settings) -> CaseView:
    view = queue.hit_view(session, case_id)
    hit = view.hit
    history = [
        {
            "id": d.id,
            "decision": d.decision,
            "reason": d.reason,
            "user_id": d.user_id,
            "user_name": d.user_name,
            "role": d.role,
            "status_before": d.status_before,
            "status_after": d.status_after,
            "four_eyes": d.four_eyes,
            "created_at": d.created_at,
        }
        for d in review.history(session, hit.id)
    ]
    proposal = None
    if hit.status == HitStatus.PROPOSED:
        proposal = next((h for h in reversed(history) if h["status_after"] == HitStatus.PROPOSED), None)
    audit.record(session, actor=principal, action="hit.read", object_type="screening_hit", object_id=hit.id)
    now = utcnow()
    return CaseView(
        id=hit.id,
        status=hit.status,
        kind=hit.kind,
        priority=hit.priority,
        score=hit.score,
        matched_name=hit.matched_name,
        query_name=hit.query_name,
        customer_id=view.customer_id,
        party=_party(view.party),
        listings=[{"source": hit.source, "source_ref": hit.source_ref, "entry": view.entry or {}}],
        explanation=hit.explanation or {},
        list_version={"source": hit.source, "version_id": hit.version_id, "entry_hash": hit.entry_hash},
        engine_version=hit.engine_version,
        config_hash=hit.config_hash,
        history=history,
        assignee=claims.assignees(session, [hit.id]).get(hit.id),
        proposal=proposal,
        verdicts=_verdicts(principal, hit.status, proposal),
        four_eyes_to_dismiss=review.needs_four_eyes(
            hit.kind, hit.score, Verdict.FALSE_POSITIVE, settings.four_eyes_score
        ),
        created_at=hit.created_at,
        sla_hours=overview.sla_hours(hit.priority),
        overdue=hit.status in PENDING and overview.overdue(hit.priority, hit.created_at, now),
        reopen_reason=hit.reopen_reason,
    )


def decide(
    session: Session, case_ids: Sequence[str], verdict: str, reason: str, principal: Principal, settings: Settings
) -> list[review.DecisionResult]:
    """One verdict with one reason on each case, in one transaction: all are recorded or none."""
    if verdict not in {v.value for v in Verdict}:
        raise Invalid("choose a decision", field="decision")
    try:
        reason = refuse_forbidden(reason, multiline=True)
    except ValueError as exc:
        raise Invalid(str(exc), field="reason") from exc
    return [
        review.decide(session, case_id, verdict, reason, principal, high_score=settings.four_eyes_score)
        for case_id in case_ids
    ]


def claim(session: Session, case_ids: Sequence[str], principal: Principal) -> int:
    return claims.claim(session, case_ids, principal)
