"""Ownership and control: a customer owned or controlled by listed persons is treated as designated itself.

AMLR Art. 20(1)(d), the EU "owned or controlled" test and the OFAC 50% rule: when beneficial owners confirmed as
sanctions matches together hold at least the threshold (``KYC_OWNERSHIP_THRESHOLD``, 50%) of the customer, or a
confirmed sanctioned person controls it (its representative or responsible person), a case with basis *owned or
controlled by listed person(s)* is opened on the customer, naming the parties and shares that make it up. Nothing is
automatic: the case is confirmed like a true match, by two officers (``kyc.review.case_decisions``); only then is
the customer blocked with that basis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc import audit, outcome
from kyc.access import Principal
from kyc.cases import SYSTEM, CaseStatus, event
from kyc.hits import HitKind, HitStatus
from kyc.storage.base import utcnow
from kyc.storage.cases import Case
from kyc.storage.hits import Hit
from kyc.storage.jobs import Customer, Party, ScreeningJob

BASIS = "ownership"
SUBJECT_KEY = "ownership"
DESIGNATION = "owned or controlled by listed person(s)"
CONTROLLING_ROLES = frozenset({"representative", "responsible_person"})


@dataclass(frozen=True)
class ListedOwnership:
    """Who among the customer's people is a confirmed sanctions match, and what share they hold together."""

    share: float
    threshold: float
    owners: list[dict[str, Any]]
    controllers: list[dict[str, Any]]

    @property
    def designated(self) -> bool:
        return self.share >= self.threshold - 1e-9 or bool(self.controllers)


def listed_ownership(session: Session, job_id: str, threshold: float) -> ListedOwnership:
    rows = session.execute(
        select(Party, Hit.source, Hit.source_ref, Hit.case_id)
        .join(Hit, Hit.party_id == Party.id)
        .where(
            Party.job_id == job_id,
            Hit.status == HitStatus.CONFIRMED.value,
            Hit.kind == HitKind.SANCTION.value,
        )
        .order_by(Party.position)
    ).all()
    owners: dict[str, dict[str, Any]] = {}
    controllers: dict[str, dict[str, Any]] = {}
    for party, source, ref, case_id in rows:
        target = (
            owners if party.role == "beneficial_owner" else controllers if party.role in CONTROLLING_ROLES else None
        )
        if target is None:
            continue
        item = target.setdefault(
            party.id,
            {
                "party_id": party.id,
                "name": party.name,
                "role": party.role,
                "share": float(party.ownership or 0.0),
                "listings": [],
                "case_id": case_id,
            },
        )
        item["listings"].append(f"{source} {ref}")
    share = round(sum(item["share"] for item in owners.values()), 6)
    return ListedOwnership(share, threshold, list(owners.values()), list(controllers.values()))


def evaluate(session: Session, job_id: str, threshold: float, now: datetime | None = None) -> str | None:
    """Open (or bring up to date) the customer's ownership-and-control case when listed persons own or control it.

    Returns the case id, or None when nobody confirmed owns or controls enough."""
    job = session.get(ScreeningJob, job_id)
    if job is None:
        return None
    held = listed_ownership(session, job_id, threshold)
    if not held.designated:
        return None
    customer_party = session.execute(
        select(Party).where(Party.job_id == job_id, Party.role == "customer").order_by(Party.position).limit(1)
    ).scalar_one_or_none()
    if customer_party is None:
        return None
    moment = now or utcnow()
    details = {
        "basis": DESIGNATION,
        "share": held.share,
        "threshold": threshold,
        "owners": held.owners,
        "controllers": held.controllers,
        "suggested": "true_match",
    }
    case = session.execute(
        select(Case).where(Case.party_id == customer_party.id, Case.subject_key == SUBJECT_KEY)
    ).scalar_one_or_none()
    if case is None:
        case = Case(
            customer_id=job.customer_id,
            job_id=job.id,
            party_id=customer_party.id,
            subject_key=SUBJECT_KEY,
            basis=BASIS,
            kind=HitKind.SANCTION.value,
            priority="high",
            status=CaseStatus.OPEN.value,
            sources=[],
            source_filter="",
            top_score=1.0,
            details=details,
            created_at=moment,
            opened_at=moment,
            updated_at=moment,
        )
        session.add(case)
        session.flush()
        event(session, case, "opened", SYSTEM, {"basis": DESIGNATION, "share": held.share})
        audit.record(
            session,
            actor=SYSTEM,
            action="case.ownership_opened",
            object_type="case",
            object_id=case.id,
            details={"customer_id": job.customer_id, "share": held.share, "controllers": len(held.controllers)},
        )
    elif case.details != details and case.status != CaseStatus.CLOSED:
        case.details, case.updated_at = details, moment
        event(session, case, "updated", SYSTEM, {"share": held.share})
    return case.id


@dataclass
class Applied:
    customer: Customer | None
    notify_jobs: list[str] = field(default_factory=list)


def apply_verdict(session: Session, case: Case, principal: Principal, now: datetime | None = None) -> Applied:
    """A confirmed ownership case blocks the customer with the ownership basis; the outcome follows."""
    customer = session.get(Customer, case.customer_id, with_for_update=True)
    job = session.get(ScreeningJob, case.job_id)
    if customer is None or job is None:
        return Applied(customer)
    if case.status != CaseStatus.CLOSED or case.verdict != "true_match":
        return Applied(customer)
    moment = now or utcnow()
    before = job.outcome
    customer.designation_basis = DESIGNATION
    customer.blocked_at = customer.blocked_at or moment
    audit.record(
        session,
        actor=principal,
        action="customer.block",
        object_type="customer",
        object_id=customer.id,
        details={"case_id": case.id, "basis": DESIGNATION, "share": (case.details or {}).get("share")},
    )
    after = outcome.refresh(session, job)
    return Applied(customer, [job.id] if after != before and job.callback_url else [])
