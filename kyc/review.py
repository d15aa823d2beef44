"""Officers' decisions on hits: four eyes, outcome recompute, blocking and authority notifications.

A hit moves through these statuses (the decision rows keep the whole history; the status is derived state):

* ``open`` — raised, or reopened by monitoring (``reopen_reason`` says why), or a proposal was rejected;
* ``proposed`` — an analyst proposed a verdict that needs a second officer: any ``true_match``, and a
  ``false_positive`` on a sanctions-list hit or at/above ``settings.four_eyes_score``;
* ``escalated`` — handed to senior review; needs no second decision, and a later proposal can follow;
* ``dismissed`` / ``confirmed`` — final verdicts (a dismissal creates a suppression);
* ``suppressed`` — raised again in a later screening while a dismissal's key still holds (no new decision needed);
* ``delisted`` — its list entry was removed; never deleted.

No adverse outcome is automatic: ``match``, the block and the authority notification follow only from a confirmed
``true_match``, i.e. two different people's decisions. Pure domain logic on a caller's Session (the caller commits).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from kyc import audit, crypto
from kyc.access import Permission, Principal
from kyc.storage.models import ListEntry, utcnow
from kyc.storage.review_models import AuthorityNotification, HitDecision, Suppression
from kyc.storage.screening_models import Customer, Hit, Party, ScreeningJob

MAX_REASON = 4000
AUTHORITY = "Ulosottolaitos (National Enforcement Authority Finland): asset freeze notification"
"""Finnish freezing measures (Act 1188/2013 and EU/UN sanctions) are reported to the Enforcement Authority."""


class Verdict(StrEnum):
    FALSE_POSITIVE = "false_positive"
    TRUE_MATCH = "true_match"
    ESCALATE = "escalate"
    APPROVE = "approve"
    REJECT = "reject"


class HitStatus(StrEnum):
    OPEN = "open"
    PROPOSED = "proposed"
    ESCALATED = "escalated"
    DISMISSED = "dismissed"
    CONFIRMED = "confirmed"
    SUPPRESSED = "suppressed"
    DELISTED = "delisted"


PENDING = frozenset({HitStatus.OPEN, HitStatus.PROPOSED, HitStatus.ESCALATED})
"""Statuses that keep an outcome at ``review``."""
PROPOSALS = frozenset({Verdict.FALSE_POSITIVE, Verdict.TRUE_MATCH, Verdict.ESCALATE})


class ReviewError(ValueError):
    """The decision does not fit the hit's current status (HTTP 409)."""


class DecisionRefused(PermissionError):
    """The caller may not give this decision: missing permission, or four eyes would collapse into one (403)."""


@dataclass(frozen=True)
class DecisionResult:
    hit_id: str
    decision_id: int
    status: str
    four_eyes: bool
    job_outcome: str | None
    customer_outcome: str | None
    customer_blocked: bool
    notification_id: int | None = None


# --- suppression keys --------------------------------------------------------------------------------------------


def party_fingerprint(party: Party) -> str:
    """A keyed digest of everything about the party the matcher looks at: any change to it reopens dismissals.

    Keyed (``crypto.blind_index``) rather than a plain hash so that the stored value cannot be brute-forced back
    to a name and birth date.
    """
    screened = {
        "schema": party.schema,
        "name": " ".join(party.name.split()).casefold(),
        "birth_date": party.birth_date,
        "nationality": party.nationality,
        "country": party.country,
        "business_id": party.business_id,
        "registration": party.registration,
        "personal_id": party.personal_id_index,
    }
    canonical = json.dumps(screened, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return crypto.blind_index(hashlib.sha256(canonical.encode()).hexdigest())[:64]


def entry_hash(session: Session, hit: Hit) -> str | None:
    """The content hash of the list entry the hit was raised on (as stored with its list version)."""
    if hit.entry_hash:
        return hit.entry_hash
    if hit.version_id is None:
        return None
    return session.execute(
        select(ListEntry.content_hash).where(
            ListEntry.version_id == hit.version_id, ListEntry.source_ref == hit.source_ref
        )
    ).scalar_one_or_none()


def stamp_keys(session: Session, hits: Iterable[Hit], parties: dict[str, Party]) -> None:
    """Fill in the suppression keys of hits raised by the screening core (which does not know about them)."""
    for hit in hits:
        if hit.party_fingerprint is None and hit.party_id in parties:
            hit.party_fingerprint = party_fingerprint(parties[hit.party_id])
        if hit.entry_hash is None:
            hit.entry_hash = entry_hash(session, hit)


def active_suppression(session: Session, customer_id: str, hit: Hit) -> Suppression | None:
    return session.execute(
        select(Suppression)
        .where(
            Suppression.customer_id == customer_id,
            Suppression.source == hit.source,
            Suppression.source_ref == hit.source_ref,
            Suppression.party_fingerprint == hit.party_fingerprint,
            Suppression.entry_hash == hit.entry_hash,
            Suppression.lifted_at.is_(None),
        )
        .limit(1)
    ).scalar_one_or_none()


def lift_suppressions(session: Session, customer_id: str, hit: Hit, reason: str, now: datetime) -> None:
    rows = session.execute(
        select(Suppression).where(
            Suppression.customer_id == customer_id,
            Suppression.source == hit.source,
            Suppression.source_ref == hit.source_ref,
            Suppression.lifted_at.is_(None),
        )
    ).scalars()
    for row in rows:
        row.lifted_at, row.lifted_reason = now, reason


# --- outcomes ----------------------------------------------------------------------------------------------------


def job_outcome(statuses: Iterable[str], pep_review: bool) -> str:
    """``match`` on a confirmed hit; ``review`` on any pending hit or a PEP needing EDD; else ``clear``."""
    seen = set(statuses)
    if HitStatus.CONFIRMED in seen:
        return "match"
    if seen & PENDING or pep_review:
        return "review"
    return "clear"


def current_job_id(session: Session, customer_id: str) -> str | None:
    """The customer's latest completed screening: the one monitoring keeps up to date (see ``kyc.monitoring``)."""
    return session.execute(
        select(ScreeningJob.id)
        .where(ScreeningJob.customer_id == customer_id, ScreeningJob.status == "completed")
        .order_by(ScreeningJob.completed_at.desc(), ScreeningJob.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def refresh_outcome(session: Session, job: ScreeningJob) -> str:
    """Recompute a completed job's outcome from its hits and PEPs, and the customer's when it is the current job."""
    session.flush()
    statuses = session.execute(select(Hit.status).where(Hit.job_id == job.id)).scalars().all()
    peps = session.execute(
        select(Party.id).where(Party.job_id == job.id, Party.pep_status.is_not(None)).limit(1)
    ).first()
    job.outcome = job_outcome(statuses, bool(job.edd_required or peps))
    job.updated_at = utcnow()
    customer = session.get(Customer, job.customer_id)
    if customer is not None and current_job_id(session, customer.id) == job.id:
        customer.outcome = "match" if customer.blocked_at is not None else job.outcome
    return job.outcome


# --- decisions ---------------------------------------------------------------------------------------------------


def needs_four_eyes(hit: Hit, verdict: Verdict, high_score: float) -> bool:
    if verdict is Verdict.TRUE_MATCH:
        return True
    if verdict is Verdict.FALSE_POSITIVE:
        return hit.kind == "sanction" or hit.score >= high_score
    return False


def _reason(reason: str) -> str:
    cleaned = reason.strip()
    if not cleaned:
        raise ValueError("reason: a decision needs a reason")
    if len(cleaned) > MAX_REASON:
        raise ValueError(f"reason: at most {MAX_REASON} characters")
    return cleaned


def history(session: Session, hit_id: str) -> Sequence[HitDecision]:
    return (
        session.execute(select(HitDecision).where(HitDecision.hit_id == hit_id).order_by(HitDecision.id))
        .scalars()
        .all()
    )


def _open_proposal(session: Session, hit_id: str) -> HitDecision:
    proposal = session.execute(
        select(HitDecision)
        .where(HitDecision.hit_id == hit_id, HitDecision.status_after == HitStatus.PROPOSED)
        .order_by(HitDecision.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if proposal is None:
        raise ReviewError(f"hit {hit_id} is proposed but its proposal is missing")
    return proposal


def _as_second_decision(session: Session, hit: Hit, verdict: Verdict, principal: Principal) -> Verdict:
    """DESIGN.md's contract has three verdicts. An approver who answers a pending proposal with one of them gives
    the second decision: the proposal's own verdict approves it, any other verdict rejects it."""
    if (
        verdict not in PROPOSALS
        or hit.status != HitStatus.PROPOSED.value
        or principal.can(Permission.PROPOSE_DECISION)
        or not principal.can(Permission.APPROVE_DECISION)
    ):
        return verdict
    proposal = session.execute(
        select(HitDecision.decision)
        .where(HitDecision.hit_id == hit.id, HitDecision.status_after == HitStatus.PROPOSED.value)
        .order_by(HitDecision.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if proposal is None:
        return verdict
    return Verdict.APPROVE if proposal == verdict.value else Verdict.REJECT


def _check_permission(principal: Principal, verdict: Verdict) -> None:
    needed = Permission.PROPOSE_DECISION if verdict in PROPOSALS else Permission.APPROVE_DECISION
    if not principal.can(needed):
        raise DecisionRefused(f"role {principal.role.value} lacks permission {needed.value} for {verdict.value}")


def _proposal_status(hit: Hit, verdict: Verdict, high_score: float) -> tuple[HitStatus, bool]:
    if hit.status not in (HitStatus.OPEN, HitStatus.ESCALATED):
        raise ReviewError(f"hit {hit.id} is {hit.status}: only open or escalated hits take a {verdict.value} decision")
    if verdict is Verdict.ESCALATE:
        return HitStatus.ESCALATED, False
    if needs_four_eyes(hit, verdict, high_score):
        return HitStatus.PROPOSED, True
    return HitStatus.DISMISSED, False


def _second_decision(session: Session, hit: Hit, verdict: Verdict, principal: Principal) -> tuple[HitStatus, int]:
    if hit.status != HitStatus.PROPOSED:
        raise ReviewError(f"hit {hit.id} is {hit.status}: there is no proposal to {verdict.value}")
    proposal = _open_proposal(session, hit.id)
    if proposal.user_id == principal.user_id:
        raise DecisionRefused("four eyes: the officer who proposed a decision cannot also approve or reject it")
    if verdict is Verdict.REJECT:
        return HitStatus.OPEN, proposal.id
    final = HitStatus.CONFIRMED if proposal.decision == Verdict.TRUE_MATCH else HitStatus.DISMISSED
    return final, proposal.id


def decide(
    session: Session,
    hit_id: str,
    verdict: Verdict | str,
    reason: str,
    principal: Principal,
    *,
    high_score: float,
    now: datetime | None = None,
) -> DecisionResult:
    """Record one decision on a hit and apply it. Raises ``LookupError``, ``ValueError`` (reason),
    :class:`ReviewError` (status) or :class:`DecisionRefused` (permission / four eyes)."""
    verdict = Verdict(verdict)
    text = _reason(reason)
    hit = session.get(Hit, hit_id, with_for_update=True)
    if hit is None:
        raise LookupError(f"hit {hit_id} does not exist")
    verdict = _as_second_decision(session, hit, verdict, principal)
    _check_permission(principal, verdict)
    moment = now or utcnow()
    before = HitStatus(hit.status)
    if verdict in PROPOSALS:
        after, four_eyes = _proposal_status(hit, verdict, high_score)
        proposal_id = None
    else:
        after, proposal_id = _second_decision(session, hit, verdict, principal)
        four_eyes = True
    _claim(session, hit, before, after, moment)
    row = HitDecision(
        hit_id=hit.id,
        decision=verdict.value,
        reason=text,
        user_id=principal.user_id,
        user_name=principal.name,
        role=principal.role.value,
        proposal_id=proposal_id,
        status_before=before.value,
        status_after=after.value,
        four_eyes=four_eyes,
        created_at=moment,
    )
    session.add(row)
    session.flush()
    return _apply(session, hit, row, principal, moment)


def _claim(session: Session, hit: Hit, before: HitStatus, after: HitStatus, moment: datetime) -> None:
    """Move the hit from the status this decision was made on, or refuse: the compare-and-set that makes a decision
    atomic on every database. ``SELECT … FOR UPDATE`` serialises deciders on PostgreSQL, but SQLite ignores it, so
    two approvers could both read ``proposed`` and both record a second decision. The conditional UPDATE runs under
    the database's write lock and re-reads the row there: the second one to get the lock matches no row."""
    result = session.execute(
        update(Hit)
        .where(Hit.id == hit.id, Hit.status == before.value)
        .values(status=after.value, updated_at=moment)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        raise ReviewError(f"hit {hit.id} was decided by someone else meanwhile (it is no longer {before.value})")
    set_committed_value(hit, "status", after.value)
    set_committed_value(hit, "updated_at", moment)


def _apply(session: Session, hit: Hit, row: HitDecision, principal: Principal, moment: datetime) -> DecisionResult:
    job = session.get(ScreeningJob, hit.job_id)
    assert job is not None  # a hit cannot outlive its job (foreign key)
    customer = session.get(Customer, job.customer_id, with_for_update=True)
    assert customer is not None
    notification: AuthorityNotification | None = None
    if row.status_after == HitStatus.DISMISSED:
        _suppress(session, customer.id, hit, row.id, moment)
    if row.status_after == HitStatus.CONFIRMED and hit.kind == "sanction":
        notification = _block(session, customer, hit, principal, moment)
    outcome = refresh_outcome(session, job)
    audit.record(
        session,
        actor=principal,
        action="hit.decision",
        object_type="screening_hit",
        object_id=hit.id,
        details={
            "decision": row.decision,
            "status_before": row.status_before,
            "status_after": row.status_after,
            "four_eyes": row.four_eyes,
            "job_id": job.id,
            "job_outcome": outcome,
            "notification_id": notification.id if notification else None,
        },
    )
    return DecisionResult(
        hit.id,
        row.id,
        hit.status,
        row.four_eyes,
        outcome,
        customer.outcome,
        customer.blocked_at is not None,
        notification.id if notification else None,
    )


def _suppress(session: Session, customer_id: str, hit: Hit, decision_id: int, moment: datetime) -> None:
    party = session.get(Party, hit.party_id)
    if party is not None:
        stamp_keys(session, [hit], {party.id: party})
    digest = hit.entry_hash or ""
    session.add(
        Suppression(
            customer_id=customer_id,
            party_fingerprint=hit.party_fingerprint or "",
            source=hit.source,
            source_ref=hit.source_ref,
            entry_hash=digest,
            hit_id=hit.id,
            decision_id=decision_id,
            created_at=moment,
        )
    )


def _block(
    session: Session, customer: Customer, hit: Hit, principal: Principal, moment: datetime
) -> AuthorityNotification:
    """A confirmed sanctions match freezes the relationship and must be reported: both recorded, same transaction."""
    customer.blocked_at = customer.blocked_at or moment
    notification = AuthorityNotification(
        customer_id=customer.id,
        hit_id=hit.id,
        authority=AUTHORITY,
        source=hit.source,
        source_ref=hit.source_ref,
        status="pending",
        created_by=principal.user_id,
        created_at=moment,
    )
    session.add(notification)
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="customer.block",
        object_type="customer",
        object_id=customer.id,
        details={"hit_id": hit.id, "source": hit.source, "source_ref": hit.source_ref, "notification": notification.id},
    )
    return notification


def pending_notifications(session: Session) -> Sequence[AuthorityNotification]:
    return (
        session.execute(
            select(AuthorityNotification)
            .where(AuthorityNotification.status == "pending")
            .order_by(AuthorityNotification.id)
        )
        .scalars()
        .all()
    )
