"""What officers work through: the hit queue with its filters, and a hit beside the list entry it was raised on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from kyc import crypto
from kyc.errors import NotFound
from kyc.hits import Priority
from kyc.storage.base import utcnow
from kyc.storage.hits import Hit, HitDecision
from kyc.storage.jobs import Party, ScreeningJob
from kyc.storage.lists import ListEntry


@dataclass(frozen=True)
class QueueFilter:
    statuses: Sequence[str] = ()
    min_score: float | None = None
    max_score: float | None = None
    source: str | None = None
    customer_id: str | None = None
    older_than: timedelta | None = None
    """Raised at least this long ago."""
    newer_than: timedelta | None = None
    """Raised at most this long ago."""
    awaiting_second_from: str | None = None
    """Proposed hits whose proposal this user did not make: what awaits their approval."""
    kinds: Sequence[str] = ()
    priority: str | None = None
    overdue_after_hours: Mapping[str, float] | None = None
    """Only hits older than their priority's review target (priority -> hours)."""
    sort: str = "priority"
    """``priority`` (high first, then oldest), ``oldest``, ``newest`` or ``score`` (highest first)."""


SORTS = ("priority", "oldest", "newest", "score")


@dataclass(frozen=True)
class QueueRow:
    hit: Hit
    party: Party
    customer_id: str


def _query(wanted: QueueFilter, now: datetime) -> Select[str]:  # type: ignore[type-var]
    """The ids of the hits wanted, from the hits table alone: counting and ordering a large queue must not drag
    every row's explanation and party through a join (the page's rows are read by id afterwards)."""
    query = select(Hit.id)
    if wanted.statuses:
        query = query.where(Hit.status.in_(list(wanted.statuses)))
    if wanted.min_score is not None:
        query = query.where(Hit.score >= wanted.min_score)
    if wanted.max_score is not None:
        query = query.where(Hit.score <= wanted.max_score)
    if wanted.source:
        query = query.where(Hit.source == wanted.source)
    if wanted.customer_id:
        query = query.where(
            Hit.job_id.in_(select(ScreeningJob.id).where(ScreeningJob.customer_id == wanted.customer_id))
        )
    if wanted.older_than is not None:
        query = query.where(Hit.created_at <= now - wanted.older_than)
    if wanted.newer_than is not None:
        query = query.where(Hit.created_at >= now - wanted.newer_than)
    if wanted.kinds:
        query = query.where(Hit.kind.in_(list(wanted.kinds)))
    if wanted.priority:
        query = query.where(Hit.priority == wanted.priority)
    if wanted.overdue_after_hours is not None:
        query = query.where(
            or_(
                *(
                    and_(Hit.priority == priority, Hit.created_at <= now - timedelta(hours=hours))
                    for priority, hours in wanted.overdue_after_hours.items()
                )
            )
        )
    if wanted.awaiting_second_from is not None:
        last_decider = (
            select(HitDecision.user_id)
            .where(HitDecision.hit_id == Hit.id)
            .order_by(HitDecision.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = query.where(Hit.status == "proposed", last_decider != wanted.awaiting_second_from)
    return query


def _order(sort: str) -> tuple[Any, ...]:
    if sort == "oldest":
        return (Hit.created_at, Hit.id)
    if sort == "newest":
        return (Hit.created_at.desc(), Hit.id)
    if sort == "score":
        return (Hit.score.desc(), Hit.created_at, Hit.id)
    # ``high`` sorts before ``normal``: ascending priority is "high first", and walks ix_screening_hits_queue in order
    assert sorted(p.value for p in Priority) == [Priority.HIGH.value, Priority.NORMAL.value]
    return (Hit.priority, Hit.created_at, Hit.id)


def hit_queue(
    session: Session,
    wanted: QueueFilter,
    *,
    limit: int,
    offset: int,
    now: datetime | None = None,
    count_up_to: int | None = None,
) -> tuple[list[QueueRow], int]:
    """A page of hits to review, by default high priority and oldest first (what waits longest comes first), and
    the total — counted only up to ``count_up_to`` when given (a page shows "10,000+" rather than count them all)."""
    query = _query(wanted, now or utcnow())
    counted = query.limit(count_up_to + 1) if count_up_to is not None else query
    total = session.execute(select(func.count()).select_from(counted.subquery())).scalar_one()
    ids = list(session.scalars(query.order_by(*_order(wanted.sort)).limit(limit).offset(offset)))
    if not ids:
        return [], int(total)
    rows = session.execute(
        select(Hit, Party, ScreeningJob.customer_id)
        .join(Party, Party.id == Hit.party_id)
        .join(ScreeningJob, ScreeningJob.id == Hit.job_id)
        .where(Hit.id.in_(ids))
    )
    found = {hit.id: QueueRow(hit, party, customer_id) for hit, party, customer_id in rows}
    return [found[i] for i in ids if i in found], int(total)


@dataclass(frozen=True)
class HitView:
    """A hit with its party, its job's customer and the list entry as stored in the hit's list version."""

    hit: Hit
    party: Party
    customer_id: str
    entry: dict[str, Any] | None
    """Identity codes masked, like the party's."""


def get_hit(session: Session, hit_id: str) -> Hit:
    hit = session.get(Hit, hit_id)
    if hit is None:
        raise NotFound(f"hit {hit_id} not found")
    return hit


def hit_view(session: Session, hit_id: str) -> HitView:
    hit = get_hit(session, hit_id)
    party = session.get(Party, hit.party_id)
    job = session.get(ScreeningJob, hit.job_id)
    assert party is not None and job is not None  # foreign keys
    entry = session.execute(
        select(ListEntry.data).where(ListEntry.version_id == hit.version_id, ListEntry.source_ref == hit.source_ref)
    ).scalar_one_or_none()
    return HitView(hit, party, job.customer_id, crypto.mask_entry(entry) if entry is not None else None)
