"""``/v1/screenings``: submit a job (idempotently), read its status and outcome, read its hits.

Orchestration only: validation lives in ``api.schemas``, the rules in ``kyc.submission`` and ``kyc.screening``.
Every read and write of personal data is audited (ids and counts only). The onboarding role sees status and
outcome of its own jobs and nothing else — hit details could tip off a customer (AML Act 444/2017, 4:4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.auth import require, require_cached
from api.blocking import run_blocking
from api.deps import SessionDep, SettingsDep
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
from kyc import audit, screening, submission
from kyc.access import Permission, Principal
from kyc.settings import Settings
from kyc.storage.jobs import ScreeningJob
from kyc.submission import AcceptedJob, JobSpec

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


def _check_size(body: ScreeningRequest, settings: Settings) -> None:
    if len(body.persons) > settings.max_persons:
        message = f"at most {settings.max_persons} persons per request"
        raise RequestValidationError([{"loc": ("body", "persons"), "msg": message, "type": "value_error"}])


def _accept(settings: Settings, spec: JobSpec, principal: Principal, key: str, enqueue: Enqueue | None) -> AcceptedJob:
    """The blocking part of a submission, in one thread-pool hop: the submission's transaction, then the publish.
    The row is committed before the broker is told."""
    accepted = submission.submit(settings, spec, principal, key)
    if accepted.created:
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
    accepted = await run_blocking(_accept, settings, spec, principal, idempotency_key, enqueue)
    code = status.HTTP_202_ACCEPTED if accepted.created else status.HTTP_200_OK
    answer: dict[str, object] = {"id": accepted.id, "status": accepted.status}
    if warnings := body.warnings():
        answer["warnings"] = warnings
    return JSONResponse(answer, status_code=code)


def _enqueue(enqueue: Enqueue | None, job_id: str) -> None:
    if enqueue is None:
        log.warning("screening.not_enqueued", job_id=job_id, reason="no broker configured; the sweeper will run it")
        return
    try:
        enqueue(job_id)
    except Exception as exc:  # the broker is down: the row is safe, the sweeper re-enqueues it
        log.warning("screening.enqueue_failed", job_id=job_id, error=type(exc).__name__)


def _detail(job: ScreeningJob, counts: dict[str, int]) -> ScreeningDetail:
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
    job = screening.visible_job(session, job_id, principal)
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
    return _detail(job, screening.hit_counts(session, job.id))


@router.get("/{job_id}/hits", response_model=HitsOut, response_model_by_alias=True)
def get_hits(job_id: str, principal: HitReader, session: SessionDep) -> HitsOut:
    """The hits of a job, best first per party, with the explanation and the list version of each."""
    job = screening.visible_job(session, job_id, principal)
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
