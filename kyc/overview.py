"""Management information supervisors ask for: open and overdue cases by priority, mean time to decision, how fresh
each list is, and how many active customers were screened against every current list version.

Overdue is measured as the case queue measures it: the hours a case's priority allows (``KYC_CASE_SLA_HOURS``) from
the moment it last started waiting (``opened_at``); time to decision runs from there to its closing.
Coverage: an active customer (relationship not ended) is covered for a source when its latest completed
screening used the source's active version, or when that version's delta screening of all parties completed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kyc import versions
from kyc.cases import WAITING, CaseStatus
from kyc.hits import Priority
from kyc.review.cases import due_at
from kyc.settings import Settings
from kyc.storage.base import utcnow
from kyc.storage.cases import Case
from kyc.storage.jobs import Customer, ScreeningJob
from kyc.storage.monitoring import MonitoringRun


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


def _by_priority(session: Session, sla_hours: Mapping[str, float], now: datetime) -> list[PriorityCount]:
    counts: dict[str, list[int]] = {p.value: [0, 0] for p in Priority}
    for case in session.execute(select(Case).where(Case.status.in_([s.value for s in WAITING]))).scalars():
        slot = counts.setdefault(case.priority, [0, 0])
        slot[0] += 1
        if due_at(case, sla_hours) <= now:
            slot[1] += 1
    order = {Priority.HIGH.value: 0, Priority.NORMAL.value: 1}
    return [PriorityCount(p, o, d) for p, (o, d) in sorted(counts.items(), key=lambda item: order.get(item[0], 9))]


def _time_to_decision(session: Session, since: datetime) -> tuple[float | None, int]:
    """Mean hours from a case starting to wait to its closing, over cases closed since ``since``."""
    rows = session.execute(
        select(Case.opened_at, Case.closed_at).where(
            Case.status == CaseStatus.CLOSED.value, Case.closed_at.is_not(None), Case.closed_at >= since
        )
    ).all()
    if not rows:
        return None, 0
    total = sum((closed - opened).total_seconds() for opened, closed in rows if closed is not None)
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
            1 for used in screened.values() if used and (used.get(source) == version_id or version_id in delta_done)
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
    return Overview(_by_priority(session, settings.case_sla_hours, now), mean, decided, freshness, coverage, active)
