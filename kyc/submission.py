"""Submissions: a screening request is accepted once, idempotently, as a queued job with its customer and parties.

Lock order, the same as the worker's (``kyc.screening.lock_for_screening``): the customer row first, then job rows.
A submission for a known company locks its customer record as it finds it, before it touches any job; a worker
completing a job of that customer locks the customer before the job. Two orders would deadlock (a resubmission
10 ms after a first one did). What still deadlocks in an order nobody controls is run again
(``kyc.storage.db.run_transaction``).

The job row is the source of truth from here on: it is committed before any worker is told, so a lost broker
message delays a job (the sweeper finds it) but never loses it. The same Idempotency-Key with the same body returns
the same job; with another body it is refused. Customers belong to the onboarding client that created them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kyc import audit, crypto, webhooks
from kyc.access import Principal
from kyc.errors import Conflict, Invalid
from kyc.retention import extend_for_activity, retention_until
from kyc.settings import Settings
from kyc.storage.base import new_id, utcnow
from kyc.storage.db import run_transaction, transaction
from kyc.storage.jobs import Customer, Party, ScreeningJob


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


class IdempotencyConflict(Conflict):
    """The same Idempotency-Key was used before with a different request body."""

    code = "idempotency_conflict"


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
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE: the lock order's first lock (module docstring)
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


def check_callback(callback_url: str | None, settings: Settings) -> None:
    """Refuse a callback the worker would refuse to send (https only, no credentials, public addresses only), so
    the client learns it now; the worker checks again at send time, as DNS may have changed since."""
    if callback_url is None:
        return
    try:
        webhooks.check_callback_url(
            callback_url,
            allow_http=settings.webhook_allow_http,
            allow_private=settings.webhook_allow_private_networks,
        )
    except webhooks.CallbackRefused as exc:
        raise Invalid(str(exc), field="callback_url") from exc


def submit(settings: Settings, spec: JobSpec, principal: Principal, idempotency_key: str) -> AcceptedJob:
    """Accept a submission in its own transaction: callback check (DNS), customer, job, parties, audit.

    The audit entry comes last, so the audit head is locked only from there to the commit. A reused key fails the
    job INSERT on its unique constraint; the transaction is rolled back and the earlier job returned (or
    :class:`IdempotencyConflict` for another body). The caller tells the workers once this has returned.
    """
    check_callback(spec.callback_url, settings)

    def accept(session: Session) -> AcceptedJob:
        accepted = accept_job(
            session,
            spec,
            submitted_by=principal.user_id,
            idempotency_key=idempotency_key,
            retention_years=settings.retention_years,
        )
        audit.record(
            session,
            actor=principal,
            action="screening.submit",
            object_type="screening_job",
            object_id=accepted.id,
            details={"persons": len(spec.persons)},
        )
        return accepted

    try:
        accepted = run_transaction(settings.database_url, accept)
    except IntegrityError:  # the key was used before, or a concurrent request with it won the insert
        with transaction(settings.database_url) as session:
            existing = find_idempotent(session, principal.user_id, idempotency_key, request_hash(spec))
            if existing is None:
                raise
            return AcceptedJob(existing.id, existing.status, False)
    return accepted
