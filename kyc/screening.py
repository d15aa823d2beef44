"""Running a screening job: claim it, screen every party, store the hits, classify PEPs, complete it — in one pass.

The hits are made by ``kyc.hits.new_hit`` (suppression keys stamped), a hit still covered by a dismissal is
``suppressed`` at once, and the outcome is decided by ``kyc.outcome`` before the transaction ends: nothing patches a
screening's result afterwards. No adverse outcome is automatic: ``match`` follows only from officers' decisions.

The job row is the source of truth. Running a job is idempotent: a completed job is left alone, a re-run of an
interrupted one replaces its hits, so a task delivered twice or re-enqueued by the sweeper is harmless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, cast

import structlog
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from kyc import audit, cases, crypto, customers, outcome, pep_approvals, versions
from kyc.access import Principal, may_read_job
from kyc.errors import NotFound, Unavailable
from kyc.hits import HitStatus, ScreeningMatch, new_hit
from kyc.matching import Matcher, Query
from kyc.matching.model import QuerySchema
from kyc.pep import PepStatus, birth_compatible, classify
from kyc.storage.base import utcnow
from kyc.storage.hits import Hit
from kyc.storage.jobs import Customer, Party, ScreeningJob
from kyc.suppression import active_suppression

log = structlog.get_logger(__name__)

WORKER_ACTOR = "system:worker"
AUDIT_PURPOSE = "aml_cdd"


class NoActiveLists(Unavailable):
    """No list version is active, so there is nothing to screen against.

    Screening against no list would report every customer ``clear``: the job waits (the worker retries) and fails
    with this reason if no list becomes active, so a missing ingestion can never pass as a clean result.
    """

    def __init__(self) -> None:
        super().__init__("no active list version to screen against; ingest the lists first (kyc lists ingest)")


class Screener(Protocol):
    """The part of ``kyc.matching.Matcher`` screening relies on (kept narrow so tests and replays can pass one)."""

    engine_version: str
    version_ids: dict[str, int]

    def config_hash(self) -> str: ...

    def screen_party(self, party: Party) -> Sequence[ScreeningMatch]: ...


@dataclass
class JobResult:
    job_id: str
    status: str
    outcome: str | None
    hits: int = 0
    peps: int = 0
    skipped: bool = False
    callback_url: str | None = None
    list_versions: dict[str, int] = field(default_factory=dict)


def claim(session: Session, job_id: str, now: datetime | None = None) -> ScreeningJob | None:
    """Lock the job row and mark it running; None when it does not exist or is already finished."""
    job = session.get(ScreeningJob, job_id, with_for_update=True)
    if job is None or job.status in ("completed", "failed"):
        return None
    moment = now or utcnow()
    job.status, job.started_at, job.updated_at = "running", moment, moment
    job.attempts += 1
    return job


def lock_for_screening(session: Session, job_id: str) -> ScreeningJob | None:
    """Lock a job for its screening transaction in the one lock order: its customer first, then the job.

    Completing a job updates its customer (outcome, next rescreen); a submission for the same company locks the
    customer and then that customer's jobs (``kyc.submission``). Taking the job first here and the customer later
    was the other order, and the two deadlocked. ``FOR NO KEY UPDATE`` on the customer leaves the foreign-key check
    of a concurrent job INSERT (``FOR KEY SHARE``) unblocked.
    """
    customer_id = session.execute(
        select(ScreeningJob.customer_id).where(ScreeningJob.id == job_id)
    ).scalar_one_or_none()
    if customer_id is None:
        return None
    session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update(key_share=True))
    return session.get(ScreeningJob, job_id, with_for_update=True, populate_existing=True)


def _previous_pep(session: Session, job: ScreeningJob, party: Party) -> PepStatus | None:
    """The person's PEP status in an earlier screening of the same customer: status never lapses by itself."""
    same_person = (
        Party.personal_id_index == party.personal_id_index
        if party.personal_id_index
        else ((Party.name == party.name) & (Party.birth_date == party.birth_date))
    )
    row = session.execute(
        select(Party.pep_basis)
        .join(ScreeningJob, ScreeningJob.id == Party.job_id)
        .where(
            ScreeningJob.customer_id == job.customer_id,
            ScreeningJob.id != job.id,
            Party.pep_status.is_not(None),
            or_(same_person),
        )
        .order_by(ScreeningJob.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return PepStatus.from_data(row) if row else None


def _raise_hits(
    session: Session,
    party: Party,
    matches: Sequence[ScreeningMatch],
    screener: Screener,
    start: int,
    high_priority_score: float,
) -> list[Hit]:
    hits = [
        new_hit(
            party,
            start + offset,
            match,
            engine_version=screener.engine_version,
            config_hash=screener.config_hash(),
            high_priority_score=high_priority_score,
        )
        for offset, match in enumerate(matches)
    ]
    session.add_all(hits)
    return hits


def _suppress_covered(session: Session, customer_id: str, hits: Sequence[Hit]) -> int:
    """Hits a dismissal still covers (same party data, same entry) are ``suppressed``: nobody decides them again."""
    session.flush()
    covered = 0
    for hit in hits:
        if active_suppression(session, customer_id, hit) is not None:
            hit.status = HitStatus.SUPPRESSED.value
            covered += 1
    return covered


def _classify_party(session: Session, job: ScreeningJob, party: Party, matches: Sequence[ScreeningMatch]) -> PepStatus:
    if party.schema != "Person":
        return PepStatus(None)
    evidence = [
        (m.entry, float(m.score))
        for m in matches
        if m.entry.is_pep and birth_compatible(m.entry.birth_dates, party.birth_date)
    ]
    status = classify(evidence, declared_pep=party.declared_pep, previous=_previous_pep(session, job, party))
    party.pep_status = status.kind.value if status.kind else None
    party.pep_basis = status.to_data() if status.kind else None
    party.edd_required = status.edd_required
    return status


def screen_job(
    session: Session,
    job: ScreeningJob,
    screener: Screener,
    *,
    high_priority_score: float,
    rescreen_days: Mapping[str, int],
    now: datetime | None = None,
) -> JobResult:
    """Screen every party of a claimed job and complete it: hits, suppression, PEPs, outcome, the customer's next
    rescreen and the audit entry, in the caller's transaction."""
    if not screener.version_ids:
        raise NoActiveLists()
    session.execute(delete(Hit).where(Hit.job_id == job.id))
    all_hits: list[Hit] = []
    statuses: list[PepStatus] = []
    for party in job.parties:
        matches = screener.screen_party(party)
        all_hits.extend(_raise_hits(session, party, matches, screener, len(all_hits), high_priority_score))
        statuses.append(_classify_party(session, job, party, matches))
    suppressed = _suppress_covered(session, job.customer_id, all_hits)
    moment = now or utcnow()
    cases.sync_jobs(session, [job.id], moment)
    job.edd_required = any(s.edd_required for s in statuses)
    job.list_versions = dict(screener.version_ids)
    job.engine_version = screener.engine_version
    job.config_hash = screener.config_hash()
    job.status, job.completed_at, job.updated_at, job.error = "completed", moment, moment, None
    pep_approvals.request_approvals(session, job, moment)
    outcome.refresh(session, job)
    customers.schedule(session, [job.customer_id], rescreen_days, moment)
    if versions.active_version_ids(session) != job.list_versions:
        # Screened while this process was still swapping in a new list version's index: the delta of that version
        # ran before this job existed, so the customer is made due and the next monitoring tick covers it.
        customers.request_rescreen(session, job.customer_id, moment)
    audit.record(
        session,
        actor=WORKER_ACTOR,
        action="screening.run",
        object_type="screening_job",
        object_id=job.id,
        purpose=AUDIT_PURPOSE,
        details={"parties": len(job.parties), "hits": len(all_hits), "outcome": job.outcome},
    )
    peps = sum(1 for s in statuses if s.is_pep)
    log.info(
        "screening.completed", job_id=job.id, outcome=job.outcome, hits=len(all_hits), suppressed=suppressed, peps=peps
    )
    return JobResult(
        job.id,
        job.status,
        job.outcome,
        len(all_hits),
        peps,
        callback_url=job.callback_url,
        list_versions=job.list_versions,
    )


def fail_job(session: Session, job_id: str, reason: str, now: datetime | None = None) -> None:
    """Give up on a job after its retries; the reason names the error class, never party data."""
    job = session.get(ScreeningJob, job_id, with_for_update=True)
    if job is None or job.status == "completed":
        return
    moment = now or utcnow()
    job.status, job.error, job.updated_at, job.completed_at = "failed", reason[:2000], moment, moment


def requeue(session: Session, job_id: str, now: datetime | None = None) -> None:
    """Put a claimed job back to queued (a transient fault: the task will retry)."""
    job = session.get(ScreeningJob, job_id, with_for_update=True)
    if job is not None and job.status == "running":
        job.status, job.updated_at = "queued", now or utcnow()


def stale_jobs(
    session: Session,
    *,
    queued_after: timedelta,
    running_after: timedelta,
    orphaned_after: timedelta | None = None,
    now: datetime | None = None,
    limit: int = 500,
) -> list[str]:
    """Jobs whose broker message may be lost: queued and untouched, or running without a worker.

    A worker holds its job's row lock for the whole screening transaction (:func:`lock_for_screening`), so on
    PostgreSQL a ``running`` row that ``SKIP LOCKED`` can take, untouched for ``orphaned_after``, has no live
    worker: it was killed, or the database restart that cut its connection rolled its work back. Such a job is
    found seconds after the fault instead of after ``running_after``. SQLite has no row locks to ask, so there a
    running job counts as lost only after ``running_after``. The rows stay locked until the caller commits.
    """
    moment = now or utcnow()
    row_locks = session.get_bind().dialect.name == "postgresql"
    running_cutoff = orphaned_after if (row_locks and orphaned_after is not None) else running_after
    query = (
        select(ScreeningJob.id)
        .where(
            or_(
                (ScreeningJob.status == "queued") & (ScreeningJob.updated_at <= moment - queued_after),
                (ScreeningJob.status == "running") & (ScreeningJob.updated_at <= moment - running_cutoff),
            )
        )
        .order_by(ScreeningJob.updated_at)
        .limit(limit)
    )
    if row_locks:
        query = query.with_for_update(skip_locked=True)
    return [job_id for (job_id,) in session.execute(query)]


def mark_enqueued(session: Session, job_ids: Sequence[str], now: datetime | None = None) -> None:
    """Touch ``updated_at`` so the sweeper waits a full interval before trying again."""
    if not job_ids:
        return
    moment = now or utcnow()
    session.execute(
        update(ScreeningJob)
        .where(ScreeningJob.id.in_(list(job_ids)), ScreeningJob.status.in_(("queued", "running")))
        .values(enqueued_at=moment, updated_at=moment, status="queued")
    )


class MatcherScreener:
    """Adapts ``kyc.matching.Matcher`` to :class:`Screener`: turns a stored party into a matching ``Query``."""

    def __init__(self, matcher: Matcher, limit: int = 20) -> None:
        self.matcher = matcher
        self.limit = limit
        self.engine_version = matcher.engine_version
        self.version_ids = dict(matcher.version_ids)

    def config_hash(self) -> str:
        return self.matcher.config.config_hash()

    def screen_party(self, party: Party) -> Sequence[ScreeningMatch]:
        identifiers = tuple(i for i in (party.business_id, party.registration, _personal_id(party)) if i)
        query = Query(
            name=party.name,
            schema_=cast(QuerySchema, party.schema),
            birth_date=party.birth_date,
            nationality=party.nationality,
            countries=(party.country,) if party.country else (),
            identifiers=identifiers,
        )
        return self.matcher.screen(query, limit=self.limit)


def _personal_id(party: Party) -> str | None:
    """The party's personal identity code, decrypted for comparison with listed codes (never stored or logged).

    Without the key (a misconfigured worker) the party is still screened on everything else; the key check
    (``kyc keys check``) is where a lost key is reported."""
    if party.personal_id_encrypted is None:
        return None
    try:
        return crypto.decrypt(party.personal_id_encrypted)
    except crypto.DecryptionError:
        log.warning("personal_id_not_decrypted", party_id=party.id)
        return None


def visible_job(session: Session, job_id: str, principal: Principal) -> ScreeningJob:
    """The job, if the caller may read it: the same answer for "absent" and "not yours", so ids cannot be probed."""
    job = session.get(ScreeningJob, job_id)
    if job is None or not may_read_job(principal, job.submitted_by):
        raise NotFound(f"screening {job_id} not found")
    return job


def hit_counts(session: Session, job_id: str) -> dict[str, int]:
    """The job's hits per priority."""
    rows = session.execute(select(Hit.priority, func.count()).where(Hit.job_id == job_id).group_by(Hit.priority))
    return {priority: int(count) for priority, count in rows}
