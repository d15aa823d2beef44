"""Senior management's approval of a relationship with a PEP, family member or close associate (AMLR Art. 42).

Screening asks for one approval per PEP person of a customer (:func:`request_approvals`); until it is given the
outcome stays ``review`` and the customer is flagged for enhanced due diligence (``kyc.outcome``). An approval holds
for later screenings of the same person for the same customer; the decision itself is ``kyc.review.pep``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc import audit, crypto
from kyc.storage.base import utcnow
from kyc.storage.cases import PepApproval
from kyc.storage.jobs import Customer, Party, ScreeningJob

ACTOR = "system:worker"


class ApprovalStatus:
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"


def person_key(party: Party) -> str:
    """The person across screenings of one customer: the identity code's blind index, else a keyed digest of name
    and birth date (never the name itself)."""
    if party.personal_id_index:
        return party.personal_id_index[:128]
    basis = f"{' '.join(party.name.split()).casefold()}|{party.birth_date or ''}"
    return crypto.blind_index(hashlib.sha256(basis.encode()).hexdigest())[:128]


def _approvals(session: Session, customer_id: str, keys: Iterable[str]) -> dict[str, PepApproval]:
    """The latest approval row of each person key of the customer."""
    rows = session.execute(
        select(PepApproval)
        .where(PepApproval.customer_id == customer_id, PepApproval.person_key.in_(sorted(set(keys))))
        .order_by(PepApproval.id)
    ).scalars()
    return {row.person_key: row for row in rows}


def pep_parties(session: Session, job_id: str) -> list[Party]:
    return list(session.execute(select(Party).where(Party.job_id == job_id, Party.pep_status.is_not(None))).scalars())


def unapproved(session: Session, job: ScreeningJob) -> list[Party]:
    """The job's PEP persons without senior management's approval: they keep the outcome at ``review``."""
    parties = pep_parties(session, job.id)
    if not parties:
        return []
    latest = _approvals(session, job.customer_id, (person_key(p) for p in parties))
    return [p for p in parties if getattr(latest.get(person_key(p)), "status", None) != ApprovalStatus.APPROVED]


def request_approvals(session: Session, job: ScreeningJob, now: datetime | None = None) -> list[PepApproval]:
    """Ask for approval of each PEP person of the job not yet approved or asked for; flag the customer for EDD."""
    parties = pep_parties(session, job.id)
    if not parties:
        return []
    customer = session.get(Customer, job.customer_id)
    if customer is not None:
        customer.edd_required = True
    latest = _approvals(session, job.customer_id, (person_key(p) for p in parties))
    moment = now or utcnow()
    made = []
    for party in parties:
        key = person_key(party)
        current = latest.get(key)
        if current is not None and current.status in (ApprovalStatus.APPROVED, ApprovalStatus.REFUSED):
            continue
        if current is not None and current.status == ApprovalStatus.REQUESTED:
            current.job_id, current.party_id, current.basis = job.id, party.id, party.pep_basis
            continue
        row = PepApproval(
            customer_id=job.customer_id,
            job_id=job.id,
            party_id=party.id,
            person_key=key,
            pep_kind=party.pep_status or "pep",
            basis=party.pep_basis,
            status=ApprovalStatus.REQUESTED,
            requested_at=moment,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=ACTOR,
            action="pep_approval.requested",
            object_type="pep_approval",
            object_id=str(row.id),
            details={"customer_id": job.customer_id, "kind": row.pep_kind},
        )
        made.append(row)
        latest[key] = row
    return made
