"""The outcome of a screening and of a customer: one rule, and the one place it is recomputed.

* ``clear`` — no hit awaits or holds a verdict and nobody is a PEP (listed or declared);
* ``review`` — a hit is open, proposed or escalated, or a relationship with a PEP, family member or close associate
  awaits senior management's approval (``kyc.pep_approvals``; the customer stays flagged for enhanced due diligence);
* ``match`` — a true match confirmed by two officers. Never automatic: nothing but a decision confirms a hit.

A customer's outcome is that of its current screening (its latest completed job, which monitoring keeps up to date),
except that a blocked customer stays ``match`` until the block is lifted.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc import pep_approvals
from kyc.hits import PENDING, HitStatus
from kyc.storage.base import utcnow
from kyc.storage.hits import Hit
from kyc.storage.jobs import Customer, ScreeningJob


class Outcome(StrEnum):
    CLEAR = "clear"
    REVIEW = "review"
    MATCH = "match"


def job_outcome(statuses: Iterable[str], pep_review: bool) -> Outcome:
    """``match`` on a confirmed hit; ``review`` on any pending hit or a PEP needing due diligence; else ``clear``."""
    seen = set(statuses)
    if HitStatus.CONFIRMED in seen:
        return Outcome.MATCH
    if seen & PENDING or pep_review:
        return Outcome.REVIEW
    return Outcome.CLEAR


def customer_outcome(current: Outcome | str, blocked: bool) -> Outcome:
    """A block (a confirmed sanctions match) holds the customer at ``match`` whatever its latest screening says."""
    return Outcome.MATCH if blocked else Outcome(current)


def current_job_id(session: Session, customer_id: str) -> str | None:
    """The customer's latest completed screening: the one monitoring keeps up to date."""
    return session.execute(
        select(ScreeningJob.id)
        .where(ScreeningJob.customer_id == customer_id, ScreeningJob.status == "completed")
        .order_by(ScreeningJob.completed_at.desc(), ScreeningJob.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def refresh(session: Session, job: ScreeningJob) -> str:
    """Recompute a completed job's outcome from its hits and PEPs, and the customer's when it is the current job."""
    session.flush()
    statuses = session.execute(select(Hit.status).where(Hit.job_id == job.id)).scalars().all()
    job.outcome = job_outcome(statuses, bool(pep_approvals.unapproved(session, job))).value
    job.updated_at = utcnow()
    customer = session.get(Customer, job.customer_id)
    if customer is not None and current_job_id(session, customer.id) == job.id:
        customer.outcome = customer_outcome(job.outcome, customer.blocked_at is not None).value
    return job.outcome
