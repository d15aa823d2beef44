"""Every source with its active version, publication and fetch times, staleness, the last diff with names, and the
pending manual imports an admin other than the importer approves (four eyes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep, SettingsDep
from api.params import DbId
from api.ui.security import form_page, page
from api.ui.templating import render
from kyc import audit, versions
from kyc.access import Permission
from kyc.logins import SessionInfo

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/ui/lists", include_in_schema=False)
Reader = Annotated[SessionInfo, Depends(page(Permission.READ_LISTS))]
Manager = Annotated[SessionInfo, Depends(form_page(Permission.MANAGE_LISTS))]
DIFF_ROWS = 50


@router.get("")
def lists_page(request: Request, session: SessionDep, settings: SettingsDep, info: Reader) -> Response:
    sources = versions.status(session, settings)
    diffs = {}
    for state in sources:
        if state.version_id is not None:
            version = versions.list_versions(session, source=state.source, status="active", limit=1)
            if version:
                named = versions.named_changes(session, version[0])
                diffs[state.source] = (named[:DIFF_ROWS], len(named))
    pending = list(versions.list_versions(session, status="pending"))
    audit.record(
        session,
        actor=info.principal,
        action="list_versions.read",
        object_type="list_version",
        object_id="*",
        purpose="list_management",
        details={"pending": len(pending)},
    )
    return render(
        request,
        "lists.html",
        settings,
        info,
        sources=sources,
        diffs=diffs,
        pending=pending,
        can_approve=info.principal.can(Permission.MANAGE_LISTS),
        message=request.query_params.get("done"),
    )


@router.post("/versions/{version_id}/approve")
def approve(version_id: DbId, request: Request, session: SessionDep, info: Manager) -> Response:
    approved = versions.approve_version(session, version_id, info.principal.name, approver_id=info.principal.user_id)
    audit.record(
        session,
        actor=info.principal,
        action="list_version.approve",
        object_type="list_version",
        object_id=str(version_id),
        purpose="list_management",
        details={"source": approved.source, "added": approved.added_count, "removed": approved.removed_count},
    )
    session.commit()
    hook: Callable[[int], None] | None = getattr(request.app.state, "on_version_activated", None)
    if hook is not None:
        try:
            hook(version_id)
        except Exception as exc:  # the broker is down: the monitoring tick still finds the version
            log.warning("list_version.delta_enqueue_failed", version_id=version_id, error=type(exc).__name__)
    return RedirectResponse(f"/ui/lists?done={version_id}", status_code=303)
