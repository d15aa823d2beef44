"""The audit trail for auditors: filters, keyset pages, and verification of the keyed chain against its head and
the external checkpoints. Reading and verifying are themselves audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.deps import SessionDep, SettingsDep
from api.ui.security import page
from api.ui.templating import render
from kyc import audit, checkpoints
from kyc.access import Permission
from kyc.logins import SessionInfo

router = APIRouter(prefix="/ui/audit", include_in_schema=False)
Auditor = Annotated[SessionInfo, Depends(page(Permission.READ_AUDIT))]
PAGE = 100


def _date(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None
    except ValueError:
        return None


@router.get("")
def audit_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    info: Auditor,
    actor: Annotated[str, Query(max_length=128)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    object_type: Annotated[str, Query(max_length=64)] = "",
    object_id: Annotated[str, Query(max_length=128)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    filters = {"actor": actor, "action": action, "object_type": object_type, "object_id": object_id}
    rows = audit.entries(
        session,
        after_id=after_id,
        limit=PAGE + 1,
        since=_date(since),
        until=_date(until),
        **{k: v or None for k, v in filters.items()},
    )
    page_rows, more = rows[:PAGE], len(rows) > PAGE
    audit.record(
        session,
        actor=info.principal,
        action="audit.read",
        object_type="audit_log",
        object_id="*",
        purpose="audit",
        details={"filters": {k: v for k, v in filters.items() if v}, "after_id": after_id, "returned": len(page_rows)},
    )
    return render(
        request,
        "audit.html",
        settings,
        info,
        rows=page_rows,
        next_after_id=page_rows[-1].id if more and page_rows else None,
        filters={**filters, "since": since, "until": until},
        verification=None,
    )


@router.get("/verify")
def verify(request: Request, session: SessionDep, settings: SettingsDep, info: Auditor) -> Response:
    result = checkpoints.verify(session, settings)
    try:
        with session.begin_nested():
            audit.record(
                session,
                actor=info.principal,
                action="audit.verify",
                object_type="audit_log",
                object_id="*",
                purpose="audit",
                details={"ok": result.ok, "verdict": result.verdict.value, "checked": result.checked},
            )
    except audit.AuditUnavailable:
        pass
    return render(request, "audit.html", settings, info, rows=[], next_after_id=None, filters={}, verification=result)
