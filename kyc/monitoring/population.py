"""Who is monitored: the parties of every current screening of a customer whose relationship lasts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from kyc.storage.base import utcnow
from kyc.storage.jobs import Customer, Party, ScreeningJob

RESCREEN_LEASE = timedelta(hours=1)
"""A customer handed to a rescreen task is not handed out again for this long (the task sets the real date)."""


def current_jobs_query(customer_ids: Sequence[str] | None = None) -> Select[tuple[str, str]]:
    """``(job_id, customer_id)`` of the latest completed job of every customer whose relationship lasts."""
    ranked = select(
        ScreeningJob.id.label("job_id"),
        ScreeningJob.customer_id.label("customer_id"),
        func.row_number()
        .over(
            partition_by=ScreeningJob.customer_id,
            order_by=(ScreeningJob.completed_at.desc(), ScreeningJob.id.desc()),
        )
        .label("rank"),
    ).where(ScreeningJob.status == "completed")
    if customer_ids is not None:
        ranked = ranked.where(ScreeningJob.customer_id.in_(list(customer_ids)))
    inner = ranked.subquery()
    return (
        select(inner.c.job_id, inner.c.customer_id)
        .join(Customer, Customer.id == inner.c.customer_id)
        .where(inner.c.rank == 1, Customer.relationship_ended_at.is_(None))
    )


def active_parties(session: Session, customer_ids: Sequence[str] | None = None) -> list[tuple[Party, str]]:
    """Every party of every current screening, with its customer id."""
    current = current_jobs_query(customer_ids).subquery()
    rows = session.execute(
        select(Party, current.c.customer_id)
        .join(current, Party.job_id == current.c.job_id)
        .order_by(current.c.customer_id, Party.position)
    )
    return [(party, customer_id) for party, customer_id in rows]


def all_active_customers(session: Session) -> list[str]:
    return list(session.execute(select(current_jobs_query().subquery().c.customer_id)).scalars())


def due_customers(session: Session, now: datetime | None = None, limit: int = 100_000) -> list[str]:
    """Monitored customers whose rescreen is due; they are leased so the next tick does not hand them out again."""
    moment = now or utcnow()
    current = current_jobs_query().subquery()
    ids = list(
        session.execute(
            select(Customer.id)
            .join(current, current.c.customer_id == Customer.id)
            .where((Customer.next_rescreen_at.is_(None)) | (Customer.next_rescreen_at <= moment))
            .order_by(Customer.next_rescreen_at.nulls_first(), Customer.id)
            .limit(limit)
        ).scalars()
    )
    if ids:
        lease(session, ids, moment + RESCREEN_LEASE)
    return ids


def lease(session: Session, customer_ids: Sequence[str], until: datetime) -> None:
    for start in range(0, len(customer_ids), 5000):
        session.execute(
            update(Customer)
            .where(Customer.id.in_(list(customer_ids[start : start + 5000])))
            .values(next_rescreen_at=until)
            .execution_options(synchronize_session=False)
        )
