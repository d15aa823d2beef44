"""The case queue, a case, decisions (one or in bulk) and claiming."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api import refusals
from api.deps import SessionDep, SettingsDep
from api.ui import casework
from api.ui.security import form_page, page
from api.ui.templating import render
from kyc.access import Permission
from kyc.errors import Invalid, Refused
from kyc.hits import HitStatus
from kyc.logins import SessionInfo
from kyc.review import queue
from kyc.versions import status as list_status

router = APIRouter(prefix="/ui/cases", include_in_schema=False)
Reader = Annotated[SessionInfo, Depends(page(Permission.READ_HITS))]
Decider = Annotated[SessionInfo, Depends(form_page(Permission.READ_HITS))]
MAX_AGE_HOURS = 87_600


def _float(value: str | None, low: float, high: float) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    if number is None or number != number or not low <= number <= high:
        return None
    return number


@router.get("")
def case_queue(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    info: Reader,
    tab: Annotated[str, Query(max_length=16)] = "open",
    status: Annotated[list[str] | None, Query(max_length=16)] = None,
    source: Annotated[str, Query(max_length=64)] = "",
    min_score: Annotated[str, Query(max_length=8)] = "",
    older_than_hours: Annotated[str, Query(max_length=8)] = "",
    customer_id: Annotated[str, Query(max_length=36)] = "",
    kind: Annotated[str, Query(max_length=16)] = "",
    sort: Annotated[str, Query(max_length=16)] = "priority",
    page_: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    statuses = [s for s in (status or []) if s in {v.value for v in HitStatus}]
    q = casework.QueueQuery(
        tab=tab if tab in casework.TABS else "open",
        statuses=statuses,
        source=source or None,
        min_score=_float(min_score, 0, 1),
        older_than_hours=_float(older_than_hours, 0, MAX_AGE_HOURS),
        customer_id=customer_id or None,
        kind=kind or None,
        sort=sort if sort in queue.SORTS else "priority",
        page=page_,
    )
    result = casework.queue_page(session, info.principal, q)
    sources = [s.source for s in list_status(session, settings)]
    params = {
        "tab": q.tab, "source": source, "min_score": min_score, "older_than_hours": older_than_hours,
        "customer_id": customer_id, "kind": kind, "sort": q.sort,
    }
    return render(
        request,
        "cases.html",
        settings,
        info,
        result=result,
        q=q,
        params=params,
        statuses=[s.value for s in HitStatus],
        sources=sources,
        tabs=casework.TABS,
        sorts=queue.SORTS,
        can_decide=info.principal.can(Permission.PROPOSE_DECISION) or info.principal.can(Permission.APPROVE_DECISION),
        message=request.query_params.get("done"),
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
    ids = [str(v)[:36] for v in form.getlist("case_id")][:500]
    if not ids:
        raise Invalid("select at least one case", field="case_id")
    with refusals.recorded(
        settings, session, info.principal, action="hit.decision.refused", object_type="screening_hit",
        object_id=",".join(ids)[:128], kinds=(Refused,), details={"decision": action[:32], "bulk": len(ids)},
    ):
        if action == "claim":
            done = casework.claim(session, ids, info.principal)
        else:
            done = len(casework.decide(session, ids, action, reason, info.principal, settings))
    target = back if back.startswith("/ui/cases") else "/ui/cases"
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}done={done}", status_code=303)


@router.get("/{case_id}")
def case_page(request: Request, case_id: str, session: SessionDep, settings: SettingsDep, info: Reader) -> Response:
    view = casework.case(session, case_id[:36], info.principal, settings)
    return render(request, "case.html", settings, info, case=view, message=request.query_params.get("done"))


@router.post("/{case_id}/decision")
def decide(
    case_id: str,
    session: SessionDep,
    settings: SettingsDep,
    info: Decider,
    decision: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    with refusals.recorded(
        settings, session, info.principal, action="hit.decision.refused", object_type="screening_hit",
        object_id=case_id[:36], details={"decision": decision[:32]},
    ):
        result = casework.decide(session, [case_id[:36]], decision, reason, info.principal, settings)[0]
    return RedirectResponse(f"/ui/cases/{result.hit_id}?done={result.status}", status_code=303)


@router.post("/{case_id}/claim")
def claim(case_id: str, session: SessionDep, info: Decider) -> Response:
    casework.claim(session, [case_id[:36]], info.principal)
    return RedirectResponse(f"/ui/cases/{case_id[:36]}?done=claimed", status_code=303)
