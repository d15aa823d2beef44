"""``/v1/screenings``: submit a job (idempotently), read its status and outcome, read its hits.

Orchestration only: validation lives in ``api.schemas``, the rules in ``kyc.screening``. Every read and write of
personal data is audited (ids and counts only). The onboarding role sees status and outcome of its own jobs and
nothing else — hit details could tip off a customer (AML Act 444/2017, 4:4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth import require, require_cached
from api.blocking import run_blocking
from api.deps import SessionDep, SettingsDep
from api.errors import ApiError, not_found
from api.schemas import (
    HitOut,
    HitParty,
    HitsOut,
    PartyOut,
    ScreeningAccepted,
    ScreeningDetail,
    ScreeningRequest,
    ScreeningStatus,
)
from kyc import audit, webhooks
from kyc.access import Permission, Principal, may_read_job
from kyc.screening import AcceptedJob, IdempotencyConflict, JobSpec, accept_job, find_idempotent, request_hash
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.storage.hits import Hit
from kyc.storage.jobs import ScreeningJob

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1/screenings", tags=["screenings"])

Enqueue = Callable[[str], None]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Client-chosen key: resubmitting the same body with it returns the same job.",
    ),
]
Submitter = Annotated[Principal, Depends(require_cached(Permission.SUBMIT_SCREENING))]
Reader = Annotated[Principal, Depends(require(Permission.READ_SCREENING))]
HitReader = Annotated[Principal, Depends(require(Permission.READ_HITS))]


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])


def _check_callback(callback_url: str | None, settings: Settings) -> None:
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
        raise _invalid("callback_url", str(exc)) from exc


def _check_size(body: ScreeningRequest, settings: Settings) -> None:
    if len(body.persons) > settings.max_persons:
        raise _invalid("persons", f"at most {settings.max_persons} persons per request")


def _accept(settings: Settings, spec: JobSpec, principal: Principal, key: str, enqueue: Enqueue | None) -> AcceptedJob:
    """The blocking part of a submission, in one thread-pool hop: callback check (DNS), the transaction, the publish.

    One transaction: customer, job and parties, then the audit entry last, so the audit head is locked only from
    there to the commit. A reused key fails the job INSERT on its unique constraint; the transaction is rolled back
    and the earlier job returned (or 409 for another body). The row is committed before the broker is told.
    """
    _check_callback(spec.callback_url, settings)
    try:
        with transaction(settings.database_url) as session:
            accepted = accept_job(
                session,
                spec,
                submitted_by=principal.user_id,
                idempotency_key=key,
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
    except IntegrityError:  # the key was used before, or a concurrent request with it won the insert
        with transaction(settings.database_url) as session:
            existing = find_idempotent(session, principal.user_id, key, request_hash(spec))
            if existing is None:
                raise
            return AcceptedJob(existing.id, existing.status, False)
    _enqueue(enqueue, accepted.id)
    return accepted


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ScreeningAccepted,
    responses={
        200: {"model": ScreeningAccepted, "description": "The same key and body were submitted before."},
        409: {"description": "The Idempotency-Key was used with a different body."},
        422: {"description": "Invalid request: the field path and the reason."},
    },
)
async def submit_screening(
    body: ScreeningRequest,
    request: Request,
    principal: Submitter,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey,
) -> Response:
    """Accept a screening job; the database row is committed before the worker is told, so it cannot be lost.

    ``async`` with every blocking step in one hop to the thread pool (``api.blocking``): this is the endpoint
    onboarding systems call in bulk, so it avoids a thread hop per dependency and the response-model round trip.
    """
    _check_size(body, settings)
    spec = body.to_spec()
    enqueue: Enqueue | None = getattr(request.app.state, "enqueue", None)
    try:
        accepted = await run_blocking(_accept, settings, spec, principal, idempotency_key, enqueue)
    except IdempotencyConflict as exc:
        raise ApiError(409, "idempotency_conflict", str(exc)) from exc
    code = status.HTTP_202_ACCEPTED if accepted.created else status.HTTP_200_OK
    return JSONResponse({"id": accepted.id, "status": accepted.status}, status_code=code)


def _enqueue(enqueue: Enqueue | None, job_id: str) -> None:
    if enqueue is None:
        log.warning("screening.not_enqueued", job_id=job_id, reason="no broker configured; the sweeper will run it")
        return
    try:
        enqueue(job_id)
    except Exception as exc:  # the broker is down: the row is safe, the sweeper re-enqueues it
        log.warning("screening.enqueue_failed", job_id=job_id, error=type(exc).__name__)


def _job_for(session: Session, job_id: str, principal: Principal) -> ScreeningJob:
    job = session.get(ScreeningJob, job_id)
    if job is None or not may_read_job(principal, job.submitted_by):
        raise not_found(f"screening {job_id}")  # the same answer for "absent" and "not yours": no probing
    return job


def _detail(session: Session, job: ScreeningJob) -> ScreeningDetail:
    rows = session.execute(select(Hit.priority, func.count()).where(Hit.job_id == job.id).group_by(Hit.priority))
    counts: dict[str, int] = {priority: int(count) for priority, count in rows}
    return ScreeningDetail(
        id=job.id,
        status=job.status,  # type: ignore[arg-type]
        outcome=job.outcome,  # type: ignore[arg-type]
        client_reference=job.client_reference,
        edd_required=job.edd_required,
        hit_count=sum(counts.values()),
        high_priority_hits=counts.get("high", 0),
        created_at=job.created_at,
        completed_at=job.completed_at,
        list_versions=job.list_versions,
        engine_version=job.engine_version,
        config_hash=job.config_hash,
        purpose=job.purpose,
        legal_basis=job.legal_basis,
        retention_until=job.retention_until,
        legal_hold=job.legal_hold,
        parties=[PartyOut.from_party(p) for p in job.parties],
    )


@router.get("/{job_id}", response_model=ScreeningDetail | ScreeningStatus, response_model_by_alias=True)
def get_screening(job_id: str, principal: Reader, session: SessionDep) -> ScreeningDetail | ScreeningStatus:
    """Status and outcome; compliance roles also see parties, PEP basis, list versions and retention."""
    job = _job_for(session, job_id, principal)
    full = principal.can(Permission.READ_HITS)
    audit.record(
        session,
        actor=principal,
        action="screening.read",
        object_type="screening_job",
        object_id=job.id,
        details={"view": "detail" if full else "status"},
    )
    if not full:
        return ScreeningStatus(id=job.id, status=job.status, outcome=job.outcome)  # type: ignore[arg-type]
    return _detail(session, job)


@router.get("/{job_id}/hits", response_model=HitsOut, response_model_by_alias=True)
def get_hits(job_id: str, principal: HitReader, session: SessionDep) -> HitsOut:
    """The hits of a job, best first per party, with the explanation and the list version of each."""
    job = _job_for(session, job_id, principal)
    parties = {p.id: p for p in job.parties}
    hits = [
        HitOut(
            id=hit.id,
            party=HitParty(
                id=hit.party_id,
                position=parties[hit.party_id].position,
                role=parties[hit.party_id].role,
                name=parties[hit.party_id].name,
            ),
            source=hit.source,
            source_ref=hit.source_ref,
            version_id=hit.version_id,
            schema_=hit.schema,
            score=hit.score,
            matched_name=hit.matched_name,
            query_name=hit.query_name,
            explanation=hit.explanation,
            kind=hit.kind,
            priority=hit.priority,
            status=hit.status,
            topics=list((hit.topics or {}).get("topics", [])),
            engine_version=hit.engine_version,
            config_hash=hit.config_hash,
        )
        for hit in job.hits
    ]
    audit.record(
        session,
        actor=principal,
        action="screening.hits.read",
        object_type="screening_job",
        object_id=job.id,
        details={"hits": len(hits)},
    )
    return HitsOut(hits=hits)
