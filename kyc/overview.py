"""Management information supervisors ask for: open and overdue hits by priority, mean time to decision, how fresh
each list is, and how many active customers were screened against every current list version.

Overdue is measured against a review target per priority (``SLA_HOURS``): the time an officer has to decide a
hit. Coverage: an active customer (relationship not ended) is covered for a source when its latest completed
screening used the source's active version, or when that version's delta screening of all parties completed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kyc import versions
from kyc.hits import PENDING, Priority
from kyc.settings import Settings
from kyc.storage.base import utcnow
from kyc.storage.hits import Hit, HitDecision
from kyc.storage.jobs import Customer, ScreeningJob
from kyc.storage.monitoring import MonitoringRun

SLA_HOURS: dict[str, float] = {Priority.HIGH.value: 24.0, Priority.NORMAL.value: 72.0}
"""Hours an officer has to decide a hit of each priority."""
FINAL = ("dismissed", "confirmed")


def sla_hours(priority: str) -> float:
    return SLA_HOURS.get(priority, SLA_HOURS[Priority.NORMAL.value])


def overdue(priority: str, created_at: datetime, now: datetime) -> bool:
    return now - created_at > timedelta(hours=sla_hours(priority))


@dataclass(frozen=True)
class PriorityCount:
    priority: str
    open: int
    overdue: int


@dataclass(frozen=True)
class Freshness:
    source: str
    version_id: int | None
    published_at: datetime | None
    fetched_at: datetime | None
    age_days: float | None
    stale: bool


@dataclass(frozen=True)
class Coverage:
    source: str
    version_id: int
    covered: int
    active: int


@dataclass(frozen=True)
class Overview:
    by_priority: list[PriorityCount]
    mean_hours_to_decision: float | None
    decided: int
    freshness: list[Freshness]
    coverage: list[Coverage]
    active_customers: int


def _by_priority(session: Session, now: datetime) -> list[PriorityCount]:
    counts: dict[str, list[int]] = {p.value: [0, 0] for p in Priority}
    for priority, created_at in session.execute(
        select(Hit.priority, Hit.created_at).where(Hit.status.in_([s.value for s in PENDING]))
    ):
        slot = counts.setdefault(priority, [0, 0])
        slot[0] += 1
        if overdue(priority, created_at, now):
            slot[1] += 1
    order = {Priority.HIGH.value: 0, Priority.NORMAL.value: 1}
    return [PriorityCount(p, o, d) for p, (o, d) in sorted(counts.items(), key=lambda item: order.get(item[0], 9))]


def _time_to_decision(session: Session, since: datetime) -> tuple[float | None, int]:
    """Mean hours from a hit being raised to its final decision, over final decisions since ``since``."""
    rows = session.execute(
        select(Hit.created_at, func.max(HitDecision.created_at))
        .join(HitDecision, HitDecision.hit_id == Hit.id)
        .where(HitDecision.status_after.in_(FINAL), HitDecision.created_at >= since)
        .group_by(Hit.id, Hit.created_at)
    ).all()
    if not rows:
        return None, 0
    total = sum((decided - raised).total_seconds() for raised, decided in rows)
    return total / len(rows) / 3600, len(rows)


def _coverage(session: Session, active_versions: dict[str, int]) -> tuple[list[Coverage], int]:
    latest = (
        select(ScreeningJob.customer_id, func.max(ScreeningJob.completed_at).label("at"))
        .where(ScreeningJob.status == "completed")
        .group_by(ScreeningJob.customer_id)
        .subquery()
    )
    rows = session.execute(
        select(Customer.id, ScreeningJob.list_versions)
        .outerjoin(latest, latest.c.customer_id == Customer.id)
        .outerjoin(
            ScreeningJob,
            (ScreeningJob.customer_id == Customer.id) & (ScreeningJob.completed_at == latest.c.at),
        )
        .where(Customer.relationship_ended_at.is_(None))
    ).all()
    screened: dict[str, dict[str, int]] = {}
    for customer_id, used in rows:
        if used is not None:
            screened[customer_id] = {str(k): int(v) for k, v in dict(used).items()}
        else:
            screened.setdefault(customer_id, {})
    delta_done = set(
        session.scalars(
            select(MonitoringRun.version_id).where(
                MonitoringRun.kind == "delta",
                MonitoringRun.status == "completed",
                MonitoringRun.version_id.in_(list(active_versions.values())),
            )
        )
    )
    active = len(screened)
    result = []
    for source, version_id in sorted(active_versions.items()):
        covered = sum(
            1
            for used in screened.values()
            if used and (used.get(source) == version_id or version_id in delta_done)
        )
        result.append(Coverage(source, version_id, covered, active))
    return result, active


def overview(session: Session, settings: Settings, now: datetime | None = None, days: int = 90) -> Overview:
    now = now or utcnow()
    mean, decided = _time_to_decision(session, now - timedelta(days=days))
    freshness = [
        Freshness(s.source, s.version_id, s.published_at, s.fetched_at, s.age_days, s.stale)
        for s in versions.status(session, settings, now)
    ]
    coverage, active = _coverage(session, versions.active_version_ids(session))
    return Overview(_by_priority(session, now), mean, decided, freshness, coverage, active)
