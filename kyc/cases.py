"""Cases: one party against one designated subject (or one unlinked entry), holding the party's hits on every
listing of it. Officers decide cases; each hit keeps its own record (``kyc.review.case_decisions``).

A case's status is derived from its hits, like a hit's from its decisions:

* ``open`` — a hit awaits a first decision (``in_review`` once somebody has claimed or been assigned it);
* ``escalated`` — handed to senior review; ``proposed`` — waiting for the second officer of four eyes;
* ``closed`` — nothing awaits anybody, with a ``verdict``: ``true_match`` (a confirmed hit), ``false_positive``
  (dismissed or suppressed) or ``delisted``.

A closed case reopens when a hit of it is pending again: a listing changed, the party's data changed, or a *new
listing* of the same subject matched (the EU adds a UN-listed person) — with the reason. Screening, monitoring and
decisions call :func:`sync_jobs` after changing hits; :func:`follow_links` moves hits when relinking changed the
subject of their entry. Priority comes from the hits (``kyc.hits.priority``: the same rule for first screening and
monitoring); the SLA clock runs from ``opened_at`` (``kyc.review.cases``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc import designations
from kyc.hits import PENDING, HitKind, HitStatus, Priority
from kyc.storage.base import utcnow
from kyc.storage.cases import Case, CaseEvent
from kyc.storage.hits import Hit
from kyc.storage.jobs import ScreeningJob

SYSTEM = "system:cases"
OWNERSHIP_KEY = "ownership"


class CaseStatus(StrEnum):
    OPEN = "open"
    IN_REVIEW = "in_review"
    PROPOSED = "proposed"
    ESCALATED = "escalated"
    CLOSED = "closed"


WAITING = frozenset({CaseStatus.OPEN, CaseStatus.IN_REVIEW, CaseStatus.PROPOSED, CaseStatus.ESCALATED})


class CaseVerdict(StrEnum):
    TRUE_MATCH = "true_match"
    FALSE_POSITIVE = "false_positive"
    DELISTED = "delisted"
    MERGED = "merged"
    """Its hits moved to the case of the subject their entry now belongs to."""


def derive(statuses: Iterable[str], assigned: bool) -> tuple[CaseStatus, CaseVerdict | None]:
    """A case's status and verdict from its hits' statuses."""
    seen = set(statuses)
    if HitStatus.OPEN in seen:
        return (CaseStatus.IN_REVIEW if assigned else CaseStatus.OPEN), None
    if HitStatus.ESCALATED in seen:
        return CaseStatus.ESCALATED, None
    if HitStatus.PROPOSED in seen:
        return CaseStatus.PROPOSED, None
    if HitStatus.CONFIRMED in seen:
        return CaseStatus.CLOSED, CaseVerdict.TRUE_MATCH
    if seen & {HitStatus.DISMISSED, HitStatus.SUPPRESSED}:
        return CaseStatus.CLOSED, CaseVerdict.FALSE_POSITIVE
    if HitStatus.DELISTED in seen:
        return CaseStatus.CLOSED, CaseVerdict.DELISTED
    return CaseStatus.CLOSED, CaseVerdict.MERGED


def event(session: Session, case: Case, action: str, actor: str, details: dict[str, Any] | None = None) -> None:
    session.add(CaseEvent(case_id=case.id, action=action, actor=actor, details=details, created_at=utcnow()))


def _case_for(
    session: Session, cache: dict[tuple[str, str], Case], hit: Hit, customer_id: str, key: str, moment: datetime
) -> Case:
    found = cache.get((hit.party_id, key))
    if found is None:
        found = session.execute(
            select(Case).where(Case.party_id == hit.party_id, Case.subject_key == key)
        ).scalar_one_or_none()
    if found is None:
        found = Case(
            customer_id=customer_id,
            job_id=hit.job_id,
            party_id=hit.party_id,
            subject_key=key,
            basis="listing",
            kind=hit.kind,
            priority=hit.priority,
            status=CaseStatus.OPEN.value,
            sources=[hit.source],
            source_filter=f"|{hit.source}|",
            top_score=hit.score,
            created_at=moment,
            opened_at=moment,
            updated_at=moment,
        )
        session.add(found)
        session.flush()
        event(session, found, "opened", SYSTEM, {"subject": key})
    cache[(hit.party_id, key)] = found
    return found


def sync_jobs(session: Session, job_ids: Iterable[str], now: datetime | None = None) -> list[Case]:
    """Put every hit of these jobs without a case into the case of its party and subject, and re-derive the cases.

    Returns the cases whose status changed (for callers that report reopenings)."""
    ids = sorted(set(job_ids))
    if not ids:
        return []
    moment = now or utcnow()
    session.flush()
    rows = session.execute(
        select(Hit, ScreeningJob.customer_id)
        .join(ScreeningJob, ScreeningJob.id == Hit.job_id)
        .where(Hit.job_id.in_(ids))
    ).all()
    loose = [(hit, customer_id) for hit, customer_id in rows if hit.case_id is None]
    keys = designations.subject_keys(session, [(hit.source, hit.source_ref) for hit, _ in loose])
    cache: dict[tuple[str, str], Case] = {}
    for hit, customer_id in loose:
        case = _case_for(session, cache, hit, customer_id, keys[(hit.source, hit.source_ref)], moment)
        hit.case_id = case.id
        if case.status == CaseStatus.CLOSED:
            event(session, case, "hit_added", SYSTEM, {"hit_id": hit.id, "source": hit.source, "ref": hit.source_ref})
    session.flush()
    case_ids = sorted({hit.case_id for hit, _ in rows if hit.case_id})
    return refresh(session, case_ids, moment)


def refresh(session: Session, case_ids: Sequence[str], now: datetime | None = None) -> list[Case]:
    """Re-derive status, verdict, priority, kind and sources of these listing cases from their hits."""
    if not case_ids:
        return []
    moment = now or utcnow()
    hits_by_case: dict[str, list[Hit]] = {case_id: [] for case_id in case_ids}
    for hit in session.execute(select(Hit).where(Hit.case_id.in_(list(case_ids)))).scalars():
        hits_by_case[hit.case_id or ""].append(hit)
    changed = []
    for case in session.execute(select(Case).where(Case.id.in_(list(case_ids)))).scalars():
        if case.basis != "listing":
            continue
        if _apply(session, case, hits_by_case.get(case.id, []), moment):
            changed.append(case)
    session.flush()
    return changed


def _apply(session: Session, case: Case, hits: list[Hit], moment: datetime) -> bool:
    before = (case.status, case.verdict)
    status, verdict = derive((hit.status for hit in hits), case.assignee_id is not None)
    pending = [hit for hit in hits if hit.status in PENDING] or hits
    case.priority = (
        Priority.HIGH.value if any(hit.priority == Priority.HIGH for hit in pending) else Priority.NORMAL.value
    )
    kinds = {hit.kind for hit in hits}
    case.kind = next((kind.value for kind in HitKind if kind.value in kinds), case.kind)
    sources = sorted({hit.source for hit in hits})
    case.sources, case.source_filter = sources, "|" + "|".join(sources) + "|" if sources else ""
    case.top_score = max((hit.score for hit in hits), default=0.0)
    if before[0] == CaseStatus.CLOSED and status != CaseStatus.CLOSED:
        case.reopen_reason = _reopen_reason(hits, case.closed_at)
        case.reopened_at = case.opened_at = moment
        case.closed_at = None
        event(session, case, "reopened", SYSTEM, {"reason": case.reopen_reason})
    elif status == CaseStatus.CLOSED and before[0] != CaseStatus.CLOSED:
        case.closed_at = moment
        event(session, case, "closed", SYSTEM, {"verdict": verdict.value if verdict else None})
    case.status, case.verdict = status.value, verdict.value if verdict else None
    if (case.status, case.verdict) != before:
        case.updated_at = moment
        return True
    return False


def _reopen_reason(hits: Sequence[Hit], closed_at: datetime | None) -> str:
    reasons = []
    for hit in hits:
        if hit.status not in PENDING:
            continue
        if closed_at is not None and hit.created_at > closed_at and not hit.reopen_reason:
            reasons.append(f"new listing of the subject: {hit.source} {hit.source_ref}")
        elif hit.reopen_reason:
            reasons.append(hit.reopen_reason)
        else:
            reasons.append(f"{hit.source} {hit.source_ref} needs a decision again")
    return "; ".join(dict.fromkeys(reasons)) or "a hit needs a decision again"


def follow_links(session: Session, moved: Mapping[tuple[str, str], str], now: datetime | None = None) -> int:
    """After relinking: move the hits of entries whose subject changed into their party's case of the new subject.

    A case left without hits is closed as ``merged`` (its record stays)."""
    if not moved:
        return 0
    moment = now or utcnow()
    refs = sorted({ref for _, ref in moved})
    hits: list[Any] = []
    for start in range(0, len(refs), 500):
        hits.extend(
            session.execute(
                select(Hit, ScreeningJob.customer_id)
                .join(ScreeningJob, ScreeningJob.id == Hit.job_id)
                .where(Hit.source_ref.in_(refs[start : start + 500]), Hit.case_id.is_not(None))
            ).all()
        )
    by_case: dict[str, list[tuple[Hit, str, str]]] = {}
    for hit, customer_id in hits:
        key = moved.get((hit.source, hit.source_ref))
        if key is not None and hit.case_id:
            by_case.setdefault(hit.case_id, []).append((hit, customer_id, key))
    cache: dict[tuple[str, str], Case] = {}
    touched: set[str] = set()
    count = 0
    for case_id, members in sorted(by_case.items()):
        current = session.get(Case, case_id)
        if current is None:
            continue
        keys = {key for _, _, key in members}
        remaining = session.execute(select(Hit.id).where(Hit.case_id == case_id)).scalars().all()
        free = len(keys) == 1 and _free(session, current.party_id, next(iter(keys)))
        if free and len(remaining) == len(members):
            # The whole case follows its subject: it keeps its assignee, comments and history.
            event(session, current, "subject_changed", SYSTEM, {"from": current.subject_key, "to": next(iter(keys))})
            current.subject_key, current.updated_at = next(iter(keys)), moment
            touched.add(current.id)
            count += len(members)
            continue
        for hit, customer_id, key in members:
            if current.subject_key == key:
                continue
            target = _case_for(session, cache, hit, customer_id, key, moment)
            hit.case_id = target.id
            event(session, target, "hit_moved", SYSTEM, {"hit_id": hit.id, "from_case": current.id})
            touched.update({current.id, target.id})
            count += 1
    session.flush()
    refresh(session, sorted(touched), moment)
    return count


def _free(session: Session, party_id: str, key: str) -> bool:
    return session.execute(select(Case.id).where(Case.party_id == party_id, Case.subject_key == key)).first() is None


def follow_versions(session: Session) -> designations.Relinked:
    """Recompute the links over the active versions and move hits whose subject changed (one transaction)."""
    relinked = designations.relink(session)
    follow_links(session, relinked.moved)
    return relinked
