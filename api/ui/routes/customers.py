"""A customer: parties and roles, jobs and outcomes, PEP basis and EDD, ownership held by listed persons, cases,
block and lift requests, authority notifications, risk and rescreen schedule, end of relationship.
Identity codes masked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from api import refusals
from api.deps import SessionDep, SettingsDep
from api.params import DbId
from api.ui.security import form_page, page
from api.ui.templating import render
from kyc import audit, customers, ownership, review
from kyc.access import Permission
from kyc.cases import CaseStatus
from kyc.errors import Invalid
from kyc.logins import SessionInfo
from kyc.review import cases as workflow
from kyc.text import refuse_forbidden

router = APIRouter(prefix="/ui/customers", include_in_schema=False)
Reader = Annotated[SessionInfo, Depends(page(Permission.READ_HITS))]
Recorder = Annotated[SessionInfo, Depends(form_page(Permission.RECORD_NOTIFICATION))]
Asker = Annotated[SessionInfo, Depends(form_page(Permission.REQUEST_BLOCK_LIFT))]
LiftApprover = Annotated[SessionInfo, Depends(form_page(Permission.APPROVE_BLOCK_LIFT))]


@router.get("/{customer_id}")
def customer_page(
    request: Request, customer_id: str, session: SessionDep, settings: SettingsDep, info: Reader
) -> Response:
    found = customers.view(session, customer_id[:36])
    customer = found.customer
    jobs = sorted(customer.jobs, key=lambda j: j.created_at, reverse=True)
    current = next((j for j in jobs if j.id == found.current_job_id), None)
    case_rows, _total = workflow.case_queue(
        session,
        workflow.CaseFilter(statuses=[s.value for s in CaseStatus], customer_id=customer.id),
        info.principal,
        sla_hours=settings.case_sla_hours,
        limit=200,
        offset=0,
    )
    held = (
        ownership.listed_ownership(session, found.current_job_id, settings.ownership_threshold)
        if found.current_job_id
        else None
    )
    lifts = review.block_lifts(session, customer.id)
    audit.record(session, actor=info.principal, action="customer.read", object_type="customer", object_id=customer.id)
    return render(
        request,
        "customer.html",
        settings,
        info,
        customer=customer,
        jobs=jobs,
        parties=list(current.parties) if current is not None else [],
        cases=case_rows,
        held=held,
        lifts=lifts,
        notifications=found.notifications,
        grounds=[g.value for g in review.LiftGround],
        message=request.query_params.get("done"),
    )


def _text(value: str, field: str, *, multiline: bool = False) -> str:
    try:
        return refuse_forbidden(value, multiline=multiline)
    except ValueError as exc:
        raise Invalid(str(exc), field=field) from exc


def _back(customer_id: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/ui/customers/{customer_id}?done={done}", status_code=303)


@router.post("/{customer_id}/notifications/{notification_id}/sent")
def notification_sent(
    customer_id: str,
    notification_id: DbId,
    session: SessionDep,
    info: Recorder,
    reference: Annotated[str, Form(max_length=review.MAX_REFERENCE)] = "",
) -> Response:
    """Record that the authority notification was sent, with the authority's reference (who: the caller)."""
    review.mark_notification_sent(session, notification_id, info.principal, reference=_text(reference, "reference"))
    return _back(customer_id[:36], "sent")


@router.post("/{customer_id}/block-lifts")
def request_lift(
    customer_id: str,
    session: SessionDep,
    info: Asker,
    ground: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=review.MAX_REASON)] = "",
) -> Response:
    """Ask for the block to be lifted (the first of four eyes); another approver decides."""
    if ground not in {g.value for g in review.LiftGround}:
        raise Invalid("choose a ground", field="ground")
    text = _text(reason, "reason", multiline=True)
    review.request_block_lift(session, customer_id[:36], ground, text, info.principal)
    return _back(customer_id[:36], "requested")


@router.post("/{customer_id}/block-lifts/{lift_id}/decision")
def decide_lift(
    customer_id: str,
    lift_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    info: LiftApprover,
    decision: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=review.MAX_REASON)] = "",
) -> Response:
    """Approve or reject somebody else's request (approvers; refused to the asker, audited)."""
    with refusals.recorded(
        settings,
        session,
        info.principal,
        action="customer.block.lift_refused",
        object_type="customer",
        object_id=customer_id[:36],
    ):
        review.decide_block_lift(
            session,
            lift_id,
            decision,
            _text(reason, "reason", multiline=True),
            info.principal,
            customer_id=customer_id[:36],
        )
    return _back(customer_id[:36], decision if decision in ("approve", "reject") else "decided")
