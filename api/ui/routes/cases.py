"""The case queue, a case, decisions (one or in bulk), claiming, assigning and comments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api import refusals
from api.deps import SessionDep, SettingsDep
from api.outcomes import notify
from api.ui import casework
from api.ui.security import form_page, page
from api.ui.templating import render
from kyc.access import Permission
from kyc.errors import Invalid, Refused
from kyc.hits import Priority
from kyc.logins import SessionInfo
from kyc.review import case_decisions
from kyc.versions import status as list_status

router = APIRouter(prefix="/ui/cases", include_in_schema=False)
Reader = Annotated[SessionInfo, Depends(page(Permission.READ_HITS))]
Decider = Annotated[SessionInfo, Depends(form_page(Permission.READ_HITS))]


@router.get("")
def case_queue(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    info: Reader,
    tab: Annotated[str, Query(max_length=16)] = "open",
    status: Annotated[list[str] | None, Query(max_length=16)] = None,
    source: Annotated[str, Query(max_length=64)] = "",
    priority: Annotated[str, Query(max_length=8)] = "",
    customer_id: Annotated[str, Query(max_length=36)] = "",
    page_: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    q = casework.QueueQuery(
        tab=tab if tab in casework.TABS else "open",
        statuses=[s for s in (status or []) if s in casework.STATUSES],
        source=source or None,
        priority=priority if priority in {p.value for p in Priority} else None,
        customer_id=customer_id or None,
        page=page_,
    )
    result = casework.queue_page(session, info.principal, q, settings)
    sources = [s.source for s in list_status(session, settings)]
    params = {"tab": q.tab, "source": source, "priority": q.priority or "", "customer_id": customer_id}
    return render(
        request,
        "cases.html",
        settings,
        info,
        result=result,
        q=q,
        params=params,
        statuses=casework.STATUSES,
        priorities=[p.value for p in Priority],
        sources=sources,
        tabs=casework.TABS,
        can_decide=info.principal.can(Permission.PROPOSE_DECISION) or info.principal.can(Permission.APPROVE_DECISION),
        message=request.query_params.get("done"),
        refused=request.query_params.get("refused"),
    )


@router.post("/bulk")
async def bulk(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    info: Decider,
    action: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form(max_length=1000)] = "/ui/cases",
) -> Response:
    form = await request.form()
    ids = [str(v)[:36] for v in form.getlist("case_id")][: case_decisions.MAX_BULK]
    if not ids:
        raise Invalid("select at least one case", field="case_id")
    refused = 0
    jobs: list[str] = []
    with refusals.recorded(
        settings,
        session,
        info.principal,
        action="case.decision.refused",
        object_type="case",
        object_id=",".join(ids)[:128],
        kinds=(Refused,),
        details={"decision": action[:32], "bulk": len(ids)},
    ):
        if action == "claim":
            done = casework.claim(session, ids, info.principal)
        else:
            items = casework.decide_many(session, ids, action, reason, info.principal, settings)
            done = sum(1 for item in items if item.ok)
            refused = len(items) - done
            jobs = [job for item in items if item.result for job in item.result.notify_jobs]
    session.commit()
    notify(request, jobs)
    target = back if back.startswith("/ui/cases") else "/ui/cases"
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}done={done}&refused={refused}", status_code=303)


@router.get("/{case_id}")
def case_page(request: Request, case_id: str, session: SessionDep, settings: SettingsDep, info: Reader) -> Response:
    view = casework.case(session, case_id[:36], info.principal, settings)
    return render(request, "case.html", settings, info, case=view, message=request.query_params.get("done"))


@router.post("/{case_id}/decision")
def decide(
    request: Request,
    case_id: str,
    session: SessionDep,
    settings: SettingsDep,
    info: Decider,
    decision: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    with refusals.recorded(
        settings,
        session,
        info.principal,
        action="case.decision.refused",
        object_type="case",
        object_id=case_id[:36],
        details={"decision": decision[:32]},
    ):
        result = casework.decide(session, case_id[:36], decision, reason, info.principal, settings)
    session.commit()
    notify(request, result.notify_jobs)
    return RedirectResponse(f"/ui/cases/{result.case_id}?done={result.status}", status_code=303)


@router.post("/{case_id}/claim")
def claim(case_id: str, session: SessionDep, info: Decider) -> Response:
    casework.claim(session, [case_id[:36]], info.principal)
    return RedirectResponse(f"/ui/cases/{case_id[:36]}?done=claimed", status_code=303)


@router.post("/{case_id}/assign")
def assign(
    case_id: str, session: SessionDep, info: Decider, assignee: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    casework.assign(session, case_id[:36], info.principal, assignee)
    return RedirectResponse(f"/ui/cases/{case_id[:36]}?done=assigned", status_code=303)


@router.post("/{case_id}/comments")
def add_comment(
    case_id: str, session: SessionDep, info: Decider, text: Annotated[str, Form(max_length=4000)] = ""
) -> Response:
    casework.comment(session, case_id[:36], info.principal, text)
    return RedirectResponse(f"/ui/cases/{case_id[:36]}?done=commented#comments", status_code=303)
