"""PEP relationship approvals: the requests with their PEP basis; senior management approves or refuses, with a
reason (``kyc.review.pep``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api import refusals
from api.deps import SessionDep, SettingsDep
from api.outcomes import notify
from api.params import DbId
from api.ui.security import form_page, page
from api.ui.templating import render
from kyc.access import Permission
from kyc.errors import Invalid
from kyc.logins import SessionInfo
from kyc.review import pep
from kyc.text import refuse_forbidden

router = APIRouter(prefix="/ui/pep-approvals", include_in_schema=False)
Reader = Annotated[SessionInfo, Depends(page(Permission.READ_PEP_APPROVALS))]
Approver = Annotated[SessionInfo, Depends(form_page(Permission.APPROVE_PEP))]
STATUSES = ("requested", "approved", "refused", "all")


@router.get("")
def approvals(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    info: Reader,
    status: Annotated[str, Query(max_length=16)] = "requested",
) -> Response:
    wanted = status if status in STATUSES else "requested"
    rows = pep.approvals(session, info.principal, None if wanted == "all" else wanted)
    return render(
        request,
        "pep_approvals.html",
        settings,
        info,
        rows=rows,
        current=wanted,
        statuses=STATUSES,
        decisions=[d.value for d in pep.PepDecision],
        message=request.query_params.get("done"),
    )


@router.post("/{approval_id}/decision")
def decide(
    request: Request,
    approval_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    info: Approver,
    decision: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        text = refuse_forbidden(reason, multiline=True)
    except ValueError as exc:
        raise Invalid(str(exc), field="reason") from exc
    with refusals.recorded(
        settings,
        session,
        info.principal,
        action="pep_approval.decision.refused",
        object_type="pep_approval",
        object_id=str(approval_id),
        details={"decision": decision[:16]},
    ):
        result = pep.decide(
            session, approval_id, decision, text, info.principal, retention_years=settings.retention_years
        )
    session.commit()
    notify(request, result.notify_jobs)
    return RedirectResponse(f"/ui/pep-approvals?done={result.approval.status}", status_code=303)
