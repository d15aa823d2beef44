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
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from kyc import audit, crypto
from kyc.access import Permission, Principal
from kyc.storage.base import utcnow
from kyc.storage.hits import AuthorityNotification, BlockLift, Hit, HitDecision, Suppression
from kyc.storage.jobs import Customer, Party, ScreeningJob
from kyc.storage.lists import ListEntry

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
    return notifications(session, "pending")


# --- authority notifications: recorded as sent -------------------------------------------------------------------

NOTIFICATION_PENDING = "pending"
NOTIFICATION_SENT = "sent"
MAX_REFERENCE = 200
CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a reported sending time may lie (clocks differ a little, not by days)."""


def notifications(session: Session, status: str | None = NOTIFICATION_PENDING) -> Sequence[AuthorityNotification]:
    """Authority notifications, oldest first; ``status`` None for all of them."""
    query = select(AuthorityNotification).order_by(AuthorityNotification.id)
    if status is not None:
        query = query.where(AuthorityNotification.status == status)
    return session.execute(query).scalars().all()


def _reference(reference: str | None, *, required: bool) -> str | None:
    cleaned = (reference or "").strip()
    if not cleaned:
        if required:
            raise ValueError("reference: give the authority's reference (case or message number)")
        return None
    if len(cleaned) > MAX_REFERENCE:
        raise ValueError(f"reference: at most {MAX_REFERENCE} characters")
    return cleaned


def mark_notification_sent(
    session: Session,
    notification_id: int,
    principal: Principal,
    *,
    reference: str,
    sent_at: datetime | None = None,
    now: datetime | None = None,
) -> AuthorityNotification:
    """Record that the report to the authority went out: who recorded it, when it was sent, the authority's
    reference. Once sent, the notification no longer holds the case in retention (``kyc.retention``); a block
    still holds it until lifted (:func:`decide_block_lift`). Raises ``LookupError``, ``ValueError`` (reference,
    time), :class:`ReviewError` (already recorded) or :class:`DecisionRefused` (permission)."""
    if not principal.can(Permission.RECORD_NOTIFICATION):
        raise DecisionRefused(f"role {principal.role.value} lacks permission {Permission.RECORD_NOTIFICATION.value}")
    text = _reference(reference, required=True)
    moment = now or utcnow()
    note = session.get(AuthorityNotification, notification_id, with_for_update=True)
    if note is None:
        raise LookupError(f"notification {notification_id} does not exist")
    when = sent_at or moment
    if when.tzinfo is None:
        raise ValueError("sent_at: give a time zone")
    if when > moment + CLOCK_SKEW:
        raise ValueError("sent_at: lies in the future")
    if when < note.created_at:
        raise ValueError("sent_at: before the notification was raised")
    result = session.execute(
        update(AuthorityNotification)
        .where(AuthorityNotification.id == note.id, AuthorityNotification.status == NOTIFICATION_PENDING)
        .values(
            status=NOTIFICATION_SENT,
            sent_at=when,
            reference=text,
            sent_by=principal.user_id,
            sent_by_name=principal.name,
            sent_recorded_at=moment,
        )
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        raise ReviewError(f"notification {notification_id} is already recorded as {note.status}")
    session.refresh(note)
    audit.record(
        session,
        actor=principal,
        action="notification.sent",
        object_type="authority_notification",
        object_id=str(note.id),
        details={"customer_id": note.customer_id, "sent_at": when.isoformat(), "reference": text},
    )
    return note


# --- lifting a block (four eyes) ---------------------------------------------------------------------------------


class LiftGround(StrEnum):
    """Why a block may end. Either way the sanctions hits that froze the customer must no longer stand:

    * ``delisted`` — every confirmed sanctions hit of the customer was delisted (its entry left the list, as
      monitoring records); checked when asked and again when approved;
    * ``confirmed_in_error`` — the confirmation itself was wrong: on approval each confirmed sanctions hit of the
      customer is overturned (a decision row ``overturn`` by the approver, status ``dismissed``, suppressed like a
      dismissal) in the same transaction.

    A licence or partial release by the authority is not a ground: the person stays designated and the customer
    stays blocked (and so neither ended nor purged) as long as a confirmed sanctions hit stands.
    """

    DELISTED = "delisted"
    CONFIRMED_IN_ERROR = "confirmed_in_error"


LIFT_REQUESTED, LIFT_APPROVED, LIFT_REJECTED = "requested", "approved", "rejected"
OVERTURN = "overturn"


def _confirmed_sanction_hits(session: Session, customer_id: str) -> list[Hit]:
    return list(
        session.execute(
            select(Hit)
            .join(ScreeningJob, ScreeningJob.id == Hit.job_id)
            .where(
                ScreeningJob.customer_id == customer_id,
                Hit.status == HitStatus.CONFIRMED.value,
                Hit.kind == "sanction",
            )
            .order_by(Hit.id)
        ).scalars()
    )


def _check_ground(session: Session, customer_id: str, ground: LiftGround) -> None:
    if ground is LiftGround.DELISTED:
        standing = _confirmed_sanction_hits(session, customer_id)
        if standing:
            raise ReviewError(
                f"ground delisted: {len(standing)} confirmed sanctions hit(s) of the customer are still listed"
            )


def request_block_lift(
    session: Session,
    customer_id: str,
    ground: LiftGround | str,
    reason: str,
    principal: Principal,
    *,
    reference: str | None = None,
    now: datetime | None = None,
) -> BlockLift:
    """Ask for the customer's block to be lifted (the first of four eyes); an approver other than the requester
    decides with :func:`decide_block_lift`. One open request per customer at a time (checked again after the
    insert, under the write lock; the caller rolls back on any exception)."""
    if not principal.can(Permission.REQUEST_BLOCK_LIFT):
        raise DecisionRefused(f"role {principal.role.value} lacks permission {Permission.REQUEST_BLOCK_LIFT.value}")
    try:
        ground = LiftGround(ground)
    except ValueError as exc:
        raise ValueError(f"ground: one of {', '.join(g.value for g in LiftGround)}") from exc
    text, ref = _reason(reason), _reference(reference, required=False)
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise LookupError(f"customer {customer_id} does not exist")
    if customer.blocked_at is None:
        raise ReviewError(f"customer {customer_id} is not blocked")
    if _open_lift(session, customer_id) is not None:
        raise ReviewError(f"customer {customer_id} already has a block-lift request awaiting a decision")
    _check_ground(session, customer_id, ground)
    lift = BlockLift(
        customer_id=customer_id,
        ground=ground.value,
        reason=text,
        reference=ref,
        status=LIFT_REQUESTED,
        requested_by=principal.user_id,
        requested_by_name=principal.name,
        requested_at=now or utcnow(),
        blocked_at=customer.blocked_at,
    )
    session.add(lift)
    session.flush()
    # Checked again after the insert: on SQLite the row lock above is ignored and two askers can both have seen no
    # open request, but the insert holds the write lock, so the later one sees the earlier one's committed row here.
    others = session.execute(
        select(BlockLift.id).where(
            BlockLift.customer_id == customer_id, BlockLift.status == LIFT_REQUESTED, BlockLift.id != lift.id
        )
    ).first()
    if others is not None:
        raise ReviewError(f"customer {customer_id} already has a block-lift request awaiting a decision")
    audit.record(
        session,
        actor=principal,
        action="customer.block.lift_requested",
        object_type="customer",
        object_id=customer_id,
        details={"lift_id": lift.id, "ground": ground.value, "reference": ref},
    )
    return lift


def _open_lift(session: Session, customer_id: str) -> BlockLift | None:
    return session.execute(
        select(BlockLift).where(BlockLift.customer_id == customer_id, BlockLift.status == LIFT_REQUESTED).limit(1)
    ).scalar_one_or_none()


def block_lifts(session: Session, customer_id: str) -> Sequence[BlockLift]:
    return (
        session.execute(select(BlockLift).where(BlockLift.customer_id == customer_id).order_by(BlockLift.id))
        .scalars()
        .all()
    )


def decide_block_lift(
    session: Session,
    lift_id: int,
    decision: str,
    reason: str,
    principal: Principal,
    *,
    customer_id: str | None = None,
    now: datetime | None = None,
) -> BlockLift:
    """The second officer's answer to a block-lift request: ``approve`` lifts the block (and, for
    ``confirmed_in_error``, overturns the confirmed sanctions hits), ``reject`` leaves it. Refused when the
    approver asked for it (four eyes), while an authority notification of the customer is still pending (the
    freeze is reported before it ends), and when a sanctions match of the customer was confirmed after the request
    was made (the request's ground and reason are about the matches known then; the approval would otherwise
    overturn or ignore a match neither officer looked at, because an already blocked customer keeps its
    ``blocked_at``: ask again). Raises ``LookupError``, ``ValueError``, :class:`ReviewError` or
    :class:`DecisionRefused`; the caller rolls back on any of them.

    The request's status changes first, by a conditional UPDATE, and only then are the customer, its notifications
    and the ground read: so two approvers cannot both decide, and on SQLite (which ignores ``SELECT … FOR
    UPDATE``) the checks run under the write lock, where no decision confirming another match can commit between
    them and the lift."""
    if not principal.can(Permission.APPROVE_BLOCK_LIFT):
        raise DecisionRefused(f"role {principal.role.value} lacks permission {Permission.APPROVE_BLOCK_LIFT.value}")
    if decision not in ("approve", "reject"):
        raise ValueError("decision: approve or reject")
    text = _reason(reason)
    moment = now or utcnow()
    lift = session.get(BlockLift, lift_id, with_for_update=True)
    if lift is None or (customer_id is not None and lift.customer_id != customer_id):
        raise LookupError(f"block-lift request {lift_id} does not exist")
    if lift.requested_by == principal.user_id:
        raise DecisionRefused("four eyes: the officer who asked for lifting a block cannot also decide on it")
    approve = decision == "approve"
    status = LIFT_APPROVED if approve else LIFT_REJECTED
    result = session.execute(
        update(BlockLift)
        .where(BlockLift.id == lift.id, BlockLift.status == LIFT_REQUESTED)
        .values(
            status=status,
            decided_by=principal.user_id,
            decided_by_name=principal.name,
            decided_at=moment,
            decision_reason=text,
        )
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        raise ReviewError(f"block-lift request {lift_id} is already {lift.status}")
    customer = session.get(Customer, lift.customer_id, with_for_update=True)
    assert customer is not None  # foreign key
    if approve:
        _check_still_liftable(session, customer, lift)
    overturned: list[str] = []
    if approve:
        if lift.ground == LiftGround.CONFIRMED_IN_ERROR:
            overturned = _overturn(session, customer, lift, principal, text, moment)
        customer.blocked_at = None
        job_id = current_job_id(session, customer.id)
        job = session.get(ScreeningJob, job_id) if job_id else None
        if job is not None:
            refresh_outcome(session, job)
    session.refresh(lift)
    audit.record(
        session,
        actor=principal,
        action="customer.block.lift" if approve else "customer.block.lift_rejected",
        object_type="customer",
        object_id=customer.id,
        details={
            "lift_id": lift.id,
            "ground": lift.ground,
            "requested_by": lift.requested_by,
            "overturned_hits": overturned,
        },
    )
    return lift


def _check_still_liftable(session: Session, customer: Customer, lift: BlockLift) -> None:
    """What must still hold when a lift is approved (see :func:`decide_block_lift`); raises :class:`ReviewError`."""
    if customer.blocked_at is None or customer.blocked_at != lift.blocked_at:
        raise ReviewError("the customer's block changed since the request was made: reject it and ask again")
    notes = session.execute(
        select(AuthorityNotification.id, AuthorityNotification.status, AuthorityNotification.created_at)
        .where(AuthorityNotification.customer_id == customer.id)
        .order_by(AuthorityNotification.id)
    ).all()
    later = [note_id for note_id, _status, created in notes if created > lift.requested_at]
    if later:
        raise ReviewError(
            f"a sanctions match of the customer was confirmed after the request (notification(s) {later}): "
            "reject it and ask again"
        )
    pending = [note_id for note_id, status, _created in notes if status == NOTIFICATION_PENDING]
    if pending:
        raise ReviewError(f"authority notification(s) {pending} still pending: record them as sent first")
    _check_ground(session, customer.id, LiftGround(lift.ground))


def _overturn(
    session: Session, customer: Customer, lift: BlockLift, principal: Principal, reason: str, moment: datetime
) -> list[str]:
    """Confirmed in error: each confirmed sanctions hit becomes ``dismissed`` with an ``overturn`` decision that
    names both officers (the requester's reason and the approver's), and is suppressed like any dismissal."""
    overturned = []
    for hit in _confirmed_sanction_hits(session, customer.id):
        _claim(session, hit, HitStatus.CONFIRMED, HitStatus.DISMISSED, moment)
        row = HitDecision(
            hit_id=hit.id,
            decision=OVERTURN,
            reason=f"block lift {lift.id} ({lift.ground}), asked by {lift.requested_by_name}: {lift.reason}\n"
            f"approved: {reason}"[:MAX_REASON],
            user_id=principal.user_id,
            user_name=principal.name,
            role=principal.role.value,
            proposal_id=None,
            status_before=HitStatus.CONFIRMED.value,
            status_after=HitStatus.DISMISSED.value,
            four_eyes=True,
            created_at=moment,
        )
        session.add(row)
        session.flush()
        _suppress(session, customer.id, hit, row.id, moment)
        job = session.get(ScreeningJob, hit.job_id)
        if job is not None:
            refresh_outcome(session, job)
        audit.record(
            session,
            actor=principal,
            action="hit.decision",
            object_type="screening_hit",
            object_id=hit.id,
            details={"decision": OVERTURN, "status_before": "confirmed", "status_after": "dismissed", "lift": lift.id},
        )
        overturned.append(hit.id)
    return overturned
