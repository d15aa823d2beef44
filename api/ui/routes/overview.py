"""Management information: open and overdue hits by priority, mean time to decision, list freshness, coverage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.deps import SessionDep, SettingsDep
from api.ui.security import page
from api.ui.templating import render
from kyc import audit, overview
from kyc.access import Permission
from kyc.logins import SessionInfo

router = APIRouter(prefix="/ui/overview", include_in_schema=False)
Reader = Annotated[SessionInfo, Depends(page(Permission.READ_HITS))]


@router.get("")
def overview_page(request: Request, session: SessionDep, settings: SettingsDep, info: Reader) -> Response:
    figures = overview.overview(session, settings)
    audit.record(session, actor=info.principal, action="overview.read", object_type="overview", object_id="*")
    return render(request, "overview.html", settings, info, o=figures, sla=settings.case_sla_hours)
