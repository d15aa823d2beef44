"""``/v1/hits``: the review queue, a hit beside its list entry, and officers' decisions (four eyes).

Parse, call ``kyc.review``, respond: the rules and queries live there. Every read and write is audited by id
(never by name). A refused decision (wrong role for that verdict, or the proposer trying to approve) is audited in
its own transaction (``api.refusals``), because the request's transaction is rolled back with the error.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from api import refusals
from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.errors import ApiError, forbidden
from api.outcomes import notify
from api.params import FreeText
from api.schemas import PartyOut
from kyc import audit, designations, review
from kyc.access import Permission, Principal
from kyc.hits import HitStatus
from kyc.review import queue
from kyc.settings import Settings
from kyc.storage.base import utcnow
from kyc.storage.db import transaction
from kyc.storage.hits import HitDecision

router = APIRouter(prefix="/v1/hits", tags=["review"])
HitReader = Annotated[Principal, Depends(require(Permission.READ_HITS))]


def _decider(principal: HitReader, settings: SettingsDep) -> Principal:
    """Analysts (first decisions) and approvers (second decisions): refused before the body is even looked at."""
    if principal.can(Permission.PROPOSE_DECISION) or principal.can(Permission.APPROVE_DECISION):
        return principal
    raise _refused(settings, principal, "*", "any", f"role {principal.role.value} cannot decide on hits")


Decider = Annotated[Principal, Depends(_decider)]
MAX_AGE_HOURS = 87_600
"""Ten years: every age filter is bounded, because ``timedelta`` overflows (a 500) on ``1e12`` hours."""
MAX_OFFSET = 10_000_000
"""Beyond any real queue; an unbounded offset overflows the database's integer (a 500 on PostgreSQL)."""


class QueueParty(BaseModel):
    id: str
    role: str
    name: str


class QueueItem(BaseModel):
    id: str
    job_id: str
    customer_id: str
    party: QueueParty
    source: str
    source_ref: str
    matched_name: str
    score: float
    kind: str
    priority: str
    status: str
    origin: str | None
    created_at: datetime
    age_hours: float
    reopen_reason: str | None
    case_id: str | None = None


class Queue(BaseModel):
    hits: list[QueueItem]
    total: int = Field(description="Hits matching the filters (the page holds at most ``limit``).")


class DecisionOut(BaseModel):
    id: int
    decision: str
    reason: str
    user_id: str
    user_name: str | None
    role: str | None
    proposal_id: int | None
    status_before: str
    status_after: str
    four_eyes: bool
    created_at: datetime


class HitDetail(BaseModel):
    id: str
    job_id: str
    customer_id: str
    status: str
    kind: str
    priority: str
    score: float
    matched_name: str
    query_name: str
    origin: str | None
    reopen_reason: str | None
    reopened_at: datetime | None
    delisted_at: datetime | None
    party: PartyOut
    entry: dict[str, Any] | None = Field(description="The list entry as stored in the hit's list version.")
    list_version: dict[str, Any]
    explanation: dict[str, Any]
    engine_version: str
    config_hash: str
    decisions: list[DecisionOut]
    four_eyes_needed_to_dismiss: bool
    case_id: str | None = None
    subject: dict[str, Any] | None = Field(
        None, description="The designated subject of the entry with every listing of it, side by side."
    )


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: review.Verdict = Field(
        description="Analysts: false_positive, true_match, escalate. Approvers: approve or reject a proposal."
    )
    reason: FreeText = Field(min_length=1, max_length=review.MAX_REASON)


class DecisionResultOut(BaseModel):
    hit_id: str
    decision_id: int
    status: str
    four_eyes: bool
    awaiting_second_decision: bool
    job_outcome: str | None
    customer_outcome: str | None
    customer_blocked: bool
    notification_id: int | None


def _hours(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(hours=value)


@router.get("", response_model=Queue)
def hit_queue(
    principal: HitReader,
    session: SessionDep,
    status_: Annotated[list[HitStatus] | None, Query(alias="status")] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1, allow_inf_nan=False)] = None,
    max_score: Annotated[float | None, Query(ge=0, le=1, allow_inf_nan=False)] = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
    older_than_hours: Annotated[
        float | None,
        Query(ge=0, le=MAX_AGE_HOURS, allow_inf_nan=False, description="Age filter: raised at least this long ago."),
    ] = None,
    newer_than_hours: Annotated[
        float | None,
        Query(ge=0, le=MAX_AGE_HOURS, allow_inf_nan=False, description="Age filter: raised at most this long ago."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Queue:
    """Hits to review, high priority and oldest first (what is waiting longest comes first)."""
    statuses = [s.value for s in status_ or []]
    wanted = queue.QueueFilter(
        statuses=statuses,
        min_score=min_score,
        max_score=max_score,
        source=source,
        customer_id=customer_id,
        older_than=_hours(older_than_hours),
        newer_than=_hours(newer_than_hours),
    )
    rows, total = queue.hit_queue(session, wanted, limit=limit, offset=offset)
    now = utcnow()
    items = [_queue_item(row, now) for row in rows]
    audit.record(
        session,
        actor=principal,
        action="hits.queue.read",
        object_type="screening_hit",
        object_id="*",
        details={"returned": len(items), "total": total, "status": statuses, "customer_id": customer_id},
    )
    return Queue(hits=items, total=total)


def _queue_item(row: queue.QueueRow, now: datetime) -> QueueItem:
    hit, party = row.hit, row.party
    return QueueItem(
        id=hit.id,
        job_id=hit.job_id,
        customer_id=row.customer_id,
        party=QueueParty(id=party.id, role=party.role, name=party.name),
        source=hit.source,
        source_ref=hit.source_ref,
        matched_name=hit.matched_name,
        score=hit.score,
        kind=hit.kind,
        priority=hit.priority,
        status=hit.status,
        origin=hit.origin,
        created_at=hit.created_at,
        age_hours=round((now - hit.created_at).total_seconds() / 3600, 2),
        reopen_reason=hit.reopen_reason,
        case_id=hit.case_id,
    )


def _decision_out(row: HitDecision) -> DecisionOut:
    return DecisionOut(
        id=row.id,
        decision=row.decision,
        reason=row.reason,
        user_id=row.user_id,
        user_name=row.user_name,
        role=row.role,
        proposal_id=row.proposal_id,
        status_before=row.status_before,
        status_after=row.status_after,
        four_eyes=row.four_eyes,
        created_at=row.created_at,
    )


@router.get("/{hit_id}", response_model=HitDetail, response_model_by_alias=True)
def hit_detail(hit_id: str, principal: HitReader, session: SessionDep, settings: SettingsDep) -> HitDetail:
    """The party's data and the list entry side by side, the match explanation and the full decision history."""
    view = queue.hit_view(session, hit_id)
    hit = view.hit
    detail = HitDetail(
        id=hit.id,
        job_id=hit.job_id,
        customer_id=view.customer_id,
        status=hit.status,
        kind=hit.kind,
        priority=hit.priority,
        score=hit.score,
        matched_name=hit.matched_name,
        query_name=hit.query_name,
        origin=hit.origin,
        reopen_reason=hit.reopen_reason,
        reopened_at=hit.reopened_at,
        delisted_at=hit.delisted_at,
        party=PartyOut.from_party(view.party),
        entry=view.entry,
        list_version={"source": hit.source, "version_id": hit.version_id, "entry_hash": hit.entry_hash},
        explanation=hit.explanation,
        engine_version=hit.engine_version,
        config_hash=hit.config_hash,
        decisions=[_decision_out(row) for row in review.history(session, hit.id)],
        four_eyes_needed_to_dismiss=review.needs_four_eyes(
            hit.kind, hit.score, review.Verdict.FALSE_POSITIVE, settings.four_eyes_score
        ),
        case_id=hit.case_id,
        subject=asdict(designations.subject_of_entry(session, hit.source, hit.source_ref)),
    )
    audit.record(session, actor=principal, action="hit.read", object_type="screening_hit", object_id=hit.id)
    return detail


@router.get("/{hit_id}/decisions", response_model=list[DecisionOut])
def hit_decisions(hit_id: str, principal: HitReader, session: SessionDep) -> list[DecisionOut]:
    hit = queue.get_hit(session, hit_id)
    rows = [_decision_out(row) for row in review.history(session, hit.id)]
    audit.record(session, actor=principal, action="hit.decisions.read", object_type="screening_hit", object_id=hit.id)
    return rows


def _refused(settings: Settings, principal: Principal, hit_id: str, verdict: str, message: str) -> ApiError:
    with transaction(settings.database_url) as session:
        audit.record(
            session,
            actor=principal,
            action="hit.decision.refused",
            object_type="screening_hit",
            object_id=hit_id,
            purpose="security",
            details={"decision": verdict, "reason": message[:200]},
        )
    return forbidden(message)


@router.post(
    "/{hit_id}/decisions",
    response_model=DecisionResultOut,
    status_code=status.HTTP_201_CREATED,
    responses={403: {"description": "Wrong role for this decision, or four eyes"}, 409: {"description": "Status"}},
)
def decide(
    hit_id: str, body: DecisionIn, request: Request, principal: Decider, session: SessionDep, settings: SettingsDep
) -> DecisionResultOut:
    """Record a decision. ``true_match``, and ``false_positive`` on a sanctions hit or a high score, become a
    proposal that an approver (a different user) approves or rejects; ``escalate`` needs no second decision."""
    with refusals.recorded(
        settings,
        session,
        principal,
        action="hit.decision.refused",
        object_type="screening_hit",
        object_id=hit_id,
        details={"decision": body.decision.value},
    ):
        result = review.decide(
            session,
            hit_id,
            body.decision,
            body.reason,
            principal,
            high_score=settings.four_eyes_score,
            ownership_threshold=settings.ownership_threshold,
        )
    session.commit()
    if result.outcome_changed and result.job_id:
        notify(request, [result.job_id])
    return DecisionResultOut(
        hit_id=result.hit_id,
        decision_id=result.decision_id,
        status=result.status,
        four_eyes=result.four_eyes,
        awaiting_second_decision=result.status == HitStatus.PROPOSED,
        job_outcome=result.job_outcome,
        customer_outcome=result.customer_outcome,
        customer_blocked=result.customer_blocked,
        notification_id=result.notification_id,
    )
