"""``/v1/hits``: the review queue, a hit beside its list entry, and officers' decisions (four eyes).

Orchestration only: the rules live in ``kyc.review``. Every read and write is audited by id (never by name). A refused
decision (wrong role for that verdict, or the proposer trying to approve) is audited in its own transaction, because
the request's transaction is rolled back with the error.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.errors import ApiError, forbidden, not_found
from api.params import FreeText
from api.schemas import PartyOut
from kyc import audit, crypto, review
from kyc.access import Permission, Principal
from kyc.settings import Settings
from kyc.storage.base import utcnow
from kyc.storage.db import transaction
from kyc.storage.hits import Hit, HitDecision
from kyc.storage.jobs import Party, ScreeningJob
from kyc.storage.lists import ListEntry

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
HitStatusName = Literal["open", "proposed", "escalated", "dismissed", "confirmed", "suppressed", "delisted"]


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


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["false_positive", "true_match", "escalate", "approve", "reject"] = Field(
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


def _queue_query(
    statuses: list[str] | None,
    min_score: float | None,
    max_score: float | None,
    source: str | None,
    customer_id: str | None,
    older_than_hours: float | None,
    newer_than_hours: float | None,
) -> Select[Hit, Party, str]:
    query = (
        select(Hit, Party, ScreeningJob.customer_id)
        .join(Party, Party.id == Hit.party_id)
        .join(ScreeningJob, ScreeningJob.id == Hit.job_id)
    )
    now = utcnow()
    if statuses:
        query = query.where(Hit.status.in_(statuses))
    if min_score is not None:
        query = query.where(Hit.score >= min_score)
    if max_score is not None:
        query = query.where(Hit.score <= max_score)
    if source:
        query = query.where(Hit.source == source)
    if customer_id:
        query = query.where(ScreeningJob.customer_id == customer_id)
    if older_than_hours is not None:
        query = query.where(Hit.created_at <= now - timedelta(hours=older_than_hours))
    if newer_than_hours is not None:
        query = query.where(Hit.created_at >= now - timedelta(hours=newer_than_hours))
    return query


@router.get("", response_model=Queue)
def hit_queue(
    principal: HitReader,
    session: SessionDep,
    status_: Annotated[list[HitStatusName] | None, Query(alias="status")] = None,
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
    query = _queue_query(
        list(status_) if status_ else None,
        min_score,
        max_score,
        source,
        customer_id,
        older_than_hours,
        newer_than_hours,
    )
    total = session.execute(select(func.count()).select_from(query.with_only_columns(Hit.id).subquery())).scalar_one()
    rows = session.execute(
        query.order_by((Hit.priority == "high").desc(), Hit.created_at, Hit.id).limit(limit).offset(offset)
    )
    now = utcnow()
    items = [_queue_item(hit, party, owner, now) for hit, party, owner in rows]
    audit.record(
        session,
        actor=principal,
        action="hits.queue.read",
        object_type="screening_hit",
        object_id="*",
        details={"returned": len(items), "total": total, "status": list(status_ or []), "customer_id": customer_id},
    )
    return Queue(hits=items, total=total)


def _queue_item(hit: Hit, party: Party, customer_id: str, now: datetime) -> QueueItem:
    return QueueItem(
        id=hit.id,
        job_id=hit.job_id,
        customer_id=customer_id,
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
    )


def _hit(session: Session, hit_id: str) -> Hit:
    hit = session.get(Hit, hit_id)
    if hit is None:
        raise not_found(f"hit {hit_id}")
    return hit


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
    hit = _hit(session, hit_id)
    party = session.get(Party, hit.party_id)
    job = session.get(ScreeningJob, hit.job_id)
    assert party is not None and job is not None  # foreign keys
    entry = session.execute(
        select(ListEntry.data).where(ListEntry.version_id == hit.version_id, ListEntry.source_ref == hit.source_ref)
    ).scalar_one_or_none()
    detail = HitDetail(
        id=hit.id,
        job_id=hit.job_id,
        customer_id=job.customer_id,
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
        party=PartyOut.from_party(party),
        entry=crypto.mask_entry(entry) if entry is not None else None,  # identity codes masked, like the party's
        list_version={"source": hit.source, "version_id": hit.version_id, "entry_hash": hit.entry_hash},
        explanation=hit.explanation,
        engine_version=hit.engine_version,
        config_hash=hit.config_hash,
        decisions=[_decision_out(row) for row in review.history(session, hit.id)],
        four_eyes_needed_to_dismiss=review.needs_four_eyes(
            hit, review.Verdict.FALSE_POSITIVE, settings.four_eyes_score
        ),
    )
    audit.record(session, actor=principal, action="hit.read", object_type="screening_hit", object_id=hit.id)
    return detail


@router.get("/{hit_id}/decisions", response_model=list[DecisionOut])
def hit_decisions(hit_id: str, principal: HitReader, session: SessionDep) -> list[DecisionOut]:
    hit = _hit(session, hit_id)
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
    hit_id: str, body: DecisionIn, principal: Decider, session: SessionDep, settings: SettingsDep
) -> DecisionResultOut:
    """Record a decision. ``true_match``, and ``false_positive`` on a sanctions hit or a high score, become a
    proposal that an approver (a different user) approves or rejects; ``escalate`` needs no second decision."""
    try:
        result = review.decide(
            session, hit_id, body.decision, body.reason, principal, high_score=settings.four_eyes_score
        )
    except LookupError as exc:
        raise not_found(f"hit {hit_id}") from exc
    except review.DecisionRefused as exc:
        session.rollback()
        raise _refused(settings, principal, hit_id, body.decision, str(exc)) from exc
    except review.ReviewError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    except ValueError as exc:
        raise ApiError(422, "validation_error", str(exc)) from exc
    return DecisionResultOut(
        hit_id=result.hit_id,
        decision_id=result.decision_id,
        status=result.status,
        four_eyes=result.four_eyes,
        awaiting_second_decision=result.status == review.HitStatus.PROPOSED,
        job_outcome=result.job_outcome,
        customer_outcome=result.customer_outcome,
        customer_blocked=result.customer_blocked,
        notification_id=result.notification_id,
    )
