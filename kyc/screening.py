"""Screening jobs: accept a request once (idempotently), screen its parties, store hits, compute the outcome.

Outcome rule (no adverse outcome is automatic — issue 5):

* ``clear``  — no party has a hit and no party is a PEP (listed or declared);
* ``review`` — any hit, or any PEP / family member / close associate. Sanctions hits at or above
  ``settings.high_priority_score`` are flagged ``priority="high"``; PEPs set ``edd_required`` (enhanced due
  diligence) on the party and the job;
* ``match``  — never set here. It is reached only when compliance officers confirm a hit as a true match
  (the decision workflow of issue 5 recomputes the outcome).

The job row is the source of truth. ``run_job`` is idempotent: a completed job is left alone, a re-run of an
interrupted one replaces its hits, so a task delivered twice or re-enqueued by the sweeper is harmless.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

import structlog
from sqlalchemy import ColumnElement, Select, Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from kyc import audit, crypto
from kyc.entry import Entry
from kyc.matching import Matcher, Query
from kyc.matching.model import QuerySchema
from kyc.pep import PEP_SOURCES, PepStatus, birth_compatible, classify
from kyc.retention import extend_for_activity, retention_until
from kyc.storage.base import new_id, utcnow
from kyc.storage.hits import Hit
from kyc.storage.jobs import Customer, Party, ScreeningJob

log = structlog.get_logger(__name__)

WORKER_ACTOR = "system:worker"
AUDIT_PURPOSE = "aml_cdd"


@dataclass(frozen=True)
class PersonSpec:
    role: str
    name: str
    birth_date: str | None = None
    nationality: str | None = None
    personal_id: str | None = None
    ownership: float | None = None
    declared_pep: bool = False


@dataclass(frozen=True)
class CustomerSpec:
    name: str
    country: str
    business_id: str | None = None
    registration: str | None = None


@dataclass(frozen=True)
class JobSpec:
    """A validated request (the API validates; this layer trusts its types, not its provenance)."""

    customer: CustomerSpec
    persons: tuple[PersonSpec, ...] = ()
    client_reference: str | None = None
    callback_url: str | None = None
    trigger: str = "onboarding"

    def canonical(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class IdempotencyConflict(Exception):
    """The same Idempotency-Key was used before with a different request body."""


class NoActiveLists(Exception):
    """No list version is active, so there is nothing to screen against.

    Screening against no list would report every customer ``clear``: the job waits (the worker retries) and fails
    with this reason if no list becomes active, so a missing ingestion can never pass as a clean result.
    """

    def __str__(self) -> str:
        return "no active list version to screen against; ingest the lists first (kyc lists ingest)"


class ScreeningMatch(Protocol):
    """The part of ``kyc.matching.Match`` screening relies on."""

    @property
    def source(self) -> str: ...
    @property
    def source_ref(self) -> str: ...
    @property
    def version_id(self) -> int: ...
    @property
    def score(self) -> float: ...
    @property
    def matched_name(self) -> str: ...
    @property
    def query_name(self) -> str: ...
    @property
    def explanation(self) -> dict[str, Any]: ...
    @property
    def entry(self) -> Entry: ...


class Screener(Protocol):
    """The part of ``kyc.matching.Matcher`` screening relies on (kept narrow so tests and replays can pass one)."""

    engine_version: str
    version_ids: dict[str, int]

    def config_hash(self) -> str: ...

    def screen_party(self, party: Party) -> Sequence[ScreeningMatch]: ...


def request_hash(spec: JobSpec) -> str:
    """A keyed digest of the body: compares resubmissions without storing a plain hash of personal data."""
    return crypto.blind_index(hashlib.sha256(spec.canonical()).hexdigest())


def find_idempotent(session: Session, submitted_by: str, key: str, digest: str) -> ScreeningJob | None:
    job = session.execute(
        select(ScreeningJob).where(ScreeningJob.submitted_by == submitted_by, ScreeningJob.idempotency_key == key)
    ).scalar_one_or_none()
    if job is not None and job.request_hash != digest:
        raise IdempotencyConflict(f"Idempotency-Key {key!r} was already used with a different request body")
    return job


@dataclass(frozen=True)
class AcceptedJob:
    """What a submission returns: the job's id and status, and whether this call created it."""

    id: str
    status: str
    created: bool


_CUSTOMERS = cast(Table, Customer.__table__)
_JOBS = cast(Table, ScreeningJob.__table__)
_PARTIES = cast(Table, Party.__table__)


def _customer_lookup(*same: ColumnElement[bool]) -> Select[tuple[str, datetime | None]]:
    table = _CUSTOMERS
    return (
        select(table.c.id, table.c.relationship_ended_at)
        .where(table.c.client_id == bindparam("client_id"), *same)
        .order_by(table.c.created_at.desc())
        .limit(1)
    )


# Built once (submissions are the hot path); both are served by an index on customers (migration 0007).
_BY_BUSINESS_ID = _customer_lookup(_CUSTOMERS.c.business_id == bindparam("business_id"))
_BY_REGISTRATION = _customer_lookup(
    _CUSTOMERS.c.registration == bindparam("registration"), _CUSTOMERS.c.country == bindparam("country")
)


def _find_customer(session: Session, spec: CustomerSpec, client_id: str) -> tuple[str, bool] | None:
    """``(id, relationship ended)`` of this client's newest customer record for the company, if any.

    Scoped by the submitting client (``customers.client_id``): a client never finds, renames or extends the record
    another client created for the same company — that record's jobs, outcome and retention are the other client's
    business relationship. Compliance roles still see every record.
    """
    if spec.business_id:
        query, params = _BY_BUSINESS_ID, {"client_id": client_id, "business_id": spec.business_id}
    elif spec.registration:
        query = _BY_REGISTRATION
        params = {"client_id": client_id, "registration": spec.registration, "country": spec.country}
    else:
        return None
    row = session.connection().execute(query, params).first()
    return None if row is None else (str(row.id), row.relationship_ended_at is not None)


def _customer(session: Session, spec: JobSpec, client_id: str, years: int, now: datetime) -> tuple[str, datetime, bool]:
    """``(customer id, retention_until, legal_hold)`` for the job: this client's active record, or a new one."""
    found = _find_customer(session, spec.customer, client_id)
    if found is None or found[1]:
        customer_id, until = new_id(), retention_until(now, years)
        session.connection().execute(
            insert(_CUSTOMERS),
            {
                "id": customer_id,
                "client_id": client_id,
                "name": spec.customer.name,
                "business_id": spec.customer.business_id,
                "registration": spec.customer.registration,
                "country": spec.customer.country,
                "client_reference": spec.client_reference,
                "created_at": now,
                "updated_at": now,
                "retention_until": until,
            },
        )
        return customer_id, until, False
    customer = session.get(Customer, found[0])
    assert customer is not None
    customer.name = spec.customer.name  # the client's own record: its latest name for the company
    before = customer.retention_until
    until = extend_for_activity(customer, years, now)
    if until != before:
        session.execute(
            update(ScreeningJob).where(ScreeningJob.customer_id == customer.id).values(retention_until=until)
        )
    session.flush()
    return customer.id, until, customer.legal_hold


def _party_rows(spec: JobSpec, job_id: str) -> list[dict[str, Any]]:
    """Plain rows for one bulk INSERT: submissions are the hot path, and the ORM unit of work was a third of it."""
    customer = spec.customer
    rows: list[dict[str, Any]] = [
        {
            "id": new_id(),
            "job_id": job_id,
            "position": 0,
            "role": "customer",
            "schema": "Organization",
            "name": customer.name,
            "country": customer.country,
            "business_id": customer.business_id,
            "registration": customer.registration,
            "declared_pep": False,
            "edd_required": False,
        }
    ]
    for index, person in enumerate(spec.persons, start=1):
        code = person.personal_id
        rows.append(
            {
                "id": new_id(),
                "job_id": job_id,
                "position": index,
                "role": person.role,
                "schema": "Person",
                "name": person.name,
                "birth_date": person.birth_date,
                "nationality": person.nationality,
                "ownership": person.ownership,
                "declared_pep": person.declared_pep,
                "edd_required": False,
                "personal_id_encrypted": crypto.encrypt(code) if code else None,
                "personal_id_index": crypto.blind_index(code) if code else None,
                "personal_id_masked": crypto.mask_personal_id(code) if code else None,
            }
        )
    return rows


def accept_job(
    session: Session,
    spec: JobSpec,
    *,
    submitted_by: str,
    idempotency_key: str,
    retention_years: int,
    now: datetime | None = None,
) -> AcceptedJob:
    """Store a new queued job with its customer and parties: the submission hot path (Core statements only).

    No look-up of the key first: the unique constraint on ``(submitted_by, idempotency_key)`` decides, so the
    INSERT raises ``IntegrityError`` when the key was used before (or by a concurrent request) — the caller rolls
    back and calls :func:`find_idempotent`. Three statements for a new customer: customer look-up, customer,
    job; plus one bulk INSERT of the parties. The caller commits, then enqueues: if the enqueue is lost the
    sweeper finds the queued row.
    """
    digest = request_hash(spec)
    moment = now or utcnow()
    customer_id, until, legal_hold = _customer(session, spec, submitted_by, retention_years, moment)
    job_id = new_id()
    connection = session.connection()
    connection.execute(
        insert(_JOBS),
        {
            "id": job_id,
            "customer_id": customer_id,
            "status": "queued",
            "client_reference": spec.client_reference,
            "callback_url": spec.callback_url,
            "idempotency_key": idempotency_key,
            "request_hash": digest,
            "submitted_by": submitted_by,
            "trigger": spec.trigger,
            "retention_until": until,
            "legal_hold": legal_hold,
            "edd_required": False,
            "attempts": 0,
            "created_at": moment,
            "updated_at": moment,
        },
    )
    rows = _party_rows(spec, job_id)
    keys = {key for row in rows for key in row}
    connection.execute(insert(_PARTIES), [{key: row.get(key) for key in keys} for row in rows])
    return AcceptedJob(job_id, "queued", True)


def create_job(
    session: Session,
    spec: JobSpec,
    *,
    submitted_by: str,
    idempotency_key: str,
    retention_years: int,
    now: datetime | None = None,
) -> tuple[ScreeningJob, bool]:
    """Store a new queued job, or return the one this key already created. ``True`` when newly created.

    Raises :class:`IdempotencyConflict` for a reused key with another body. For callers that want the ORM object
    (tests, tools); the API uses :func:`accept_job`, which skips the look-up and relies on the unique key.
    """
    existing = find_idempotent(session, submitted_by, idempotency_key, request_hash(spec))
    if existing is not None:
        return existing, False
    accepted = accept_job(
        session,
        spec,
        submitted_by=submitted_by,
        idempotency_key=idempotency_key,
        retention_years=retention_years,
        now=now,
    )
    job = session.get(ScreeningJob, accepted.id)
    assert job is not None
    return job, True


# --- running a job -----------------------------------------------------------------------------------------------


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


def hit_kind(entry: Entry) -> str:
    if entry.is_pep and "sanction" not in entry.topics:
        return "pep"
    if "sanction" in entry.topics or entry.source not in PEP_SOURCES:
        return "sanction"
    return "other"


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


def hit_from_match(job_id: str, party_id: str, position: int, match: ScreeningMatch, screener: Screener) -> Hit:
    """A new open hit with everything needed to replay and explain it (onboarding and monitoring alike)."""
    return Hit(
        job_id=job_id,
        party_id=party_id,
        position=position,
        source=match.source,
        source_ref=match.source_ref,
        version_id=match.version_id,
        schema=match.entry.schema_.value,
        score=round(float(match.score), 4),
        matched_name=match.matched_name,
        query_name=match.query_name,
        explanation=match.explanation,
        topics={"topics": list(match.entry.topics), "programs": list(match.entry.programs)},
        kind=hit_kind(match.entry),
        priority="normal",
        status="open",
        engine_version=screener.engine_version,
        config_hash=screener.config_hash(),
    )


def _store_hits(
    session: Session, job: ScreeningJob, party: Party, matches: Sequence[ScreeningMatch], screener: Screener, start: int
) -> list[Hit]:
    hits = [hit_from_match(job.id, party.id, start + offset, match, screener) for offset, match in enumerate(matches)]
    session.add_all(hits)
    return hits


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


def compute_outcome(hits: Sequence[Hit], peps: Sequence[PepStatus]) -> str:
    """See the module docstring: ``review`` on any hit or PEP, else ``clear``; never ``match`` automatically."""
    if hits or any(p.is_pep for p in peps):
        return "review"
    return "clear"


def screen_job(
    session: Session, job: ScreeningJob, screener: Screener, *, high_priority_score: float, now: datetime | None = None
) -> JobResult:
    """Screen every party of a claimed job, replace its hits, classify PEPs and complete it (caller commits)."""
    if not screener.version_ids:
        raise NoActiveLists()
    session.execute(delete(Hit).where(Hit.job_id == job.id))
    all_hits: list[Hit] = []
    statuses: list[PepStatus] = []
    for party in job.parties:
        matches = screener.screen_party(party)
        hits = _store_hits(session, job, party, matches, screener, len(all_hits))
        for hit in hits:
            if hit.kind == "sanction" and hit.score >= high_priority_score:
                hit.priority = "high"
        all_hits.extend(hits)
        statuses.append(_classify_party(session, job, party, matches))
    moment = now or utcnow()
    job.outcome = compute_outcome(all_hits, statuses)
    job.edd_required = any(s.edd_required for s in statuses)
    job.list_versions = dict(screener.version_ids)
    job.engine_version = screener.engine_version
    job.config_hash = screener.config_hash()
    job.status, job.completed_at, job.updated_at, job.error = "completed", moment, moment, None
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
    log.info("screening.completed", job_id=job.id, outcome=job.outcome, hits=len(all_hits), peps=peps)
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
    now: datetime | None = None,
    limit: int = 500,
) -> list[str]:
    """Jobs whose broker message may be lost: queued and untouched, or running far too long."""
    moment = now or utcnow()
    rows = session.execute(
        select(ScreeningJob.id)
        .where(
            or_(
                (ScreeningJob.status == "queued") & (ScreeningJob.updated_at <= moment - queued_after),
                (ScreeningJob.status == "running") & (ScreeningJob.updated_at <= moment - running_after),
            )
        )
        .order_by(ScreeningJob.updated_at)
        .limit(limit)
    )
    return [job_id for (job_id,) in rows]


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
        identifiers = tuple(i for i in (party.business_id, party.registration) if i)
        query = Query(
            name=party.name,
            schema_=cast(QuerySchema, party.schema),
            birth_date=party.birth_date,
            nationality=party.nationality,
            countries=(party.country,) if party.country else (),
            identifiers=identifiers,
        )
        return self.matcher.screen(query, limit=self.limit)
