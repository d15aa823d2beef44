"""``/v1/lists/versions``: list versions by status, and the second user's approval of a manual import.

A manually imported national freezing list (``fi_national``) stays ``pending`` until a different user approves it
(``kyc.versions.approve_version``). Once active it is delta-screened like any new version: the monitoring tick finds
every active version without a completed delta run (``kyc.monitoring.unscreened_versions``); a deployment that wires
``app.state.on_version_activated`` (``kyc serve``) starts it at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from api.auth import require
from api.deps import SessionDep
from api.params import DbId
from kyc import audit, designations, versions
from kyc.access import Permission, Principal
from kyc.storage.lists import ListVersion

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1/lists/versions", tags=["lists"])
ListReader = Annotated[Principal, Depends(require(Permission.READ_LISTS))]
ListManager = Annotated[Principal, Depends(require(Permission.MANAGE_LISTS))]


class VersionOut(BaseModel):
    id: int
    source: str
    status: str
    sha256: str
    fetched_at: datetime
    published_at: datetime | None
    activated_at: datetime | None
    entry_count: int
    added_count: int
    removed_count: int
    changed_count: int
    origin: str
    created_by: str | None
    approved_by: str | None
    approved_at: datetime | None


def _out(version: ListVersion) -> VersionOut:
    return VersionOut(
        id=version.id,
        source=version.source,
        status=version.status,
        sha256=version.sha256,
        fetched_at=version.fetched_at,
        published_at=version.published_at,
        activated_at=version.activated_at,
        entry_count=version.entry_count,
        added_count=version.added_count,
        removed_count=version.removed_count,
        changed_count=version.changed_count,
        origin=version.origin,
        created_by=version.created_by,
        approved_by=version.approved_by,
        approved_at=version.approved_at,
    )


@router.get("", response_model=list[VersionOut])
def list_versions(
    principal: ListReader,
    session: SessionDep,
    status: Annotated[Literal["pending", "active", "superseded"] | None, Query()] = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[VersionOut]:
    """Newest first; ``?status=pending`` is the approval queue."""
    rows = [_out(v) for v in versions.list_versions(session, status=status, source=source, limit=limit)]
    audit.record(
        session,
        actor=principal,
        action="list_versions.read",
        object_type="list_version",
        object_id="*",
        purpose="list_management",
        details={"status": status, "returned": len(rows)},
    )
    return rows


@router.post("/{version_id}/approve", response_model=VersionOut)
def approve(version_id: DbId, request: Request, principal: ListManager, session: SessionDep) -> VersionOut:
    """Activate a pending version: the importer cannot approve their own import (four eyes)."""
    approved = versions.approve_version(session, version_id, principal.name, approver_id=principal.user_id)
    audit.record(
        session,
        actor=principal,
        action="list_version.approve",
        object_type="list_version",
        object_id=str(version_id),
        purpose="list_management",
        details={
            "source": approved.source,
            "added": approved.added_count,
            "removed": approved.removed_count,
            "changed": approved.changed_count,
        },
    )
    out = _out(approved)
    session.commit()
    _start_delta(request, version_id)
    return out


class EntryOut(BaseModel):
    source: str
    source_ref: str
    version_id: int
    entry: dict[str, Any]
    subject: dict[str, Any]


@router.get("/{version_id}/entries/{source_ref}", response_model=EntryOut)
def entry_detail(version_id: DbId, source_ref: str, principal: ListReader, session: SessionDep) -> EntryOut:
    """An entry beside its designated subject: every listing of it (source, programme, listing date, names,
    identifiers) side by side."""
    view = designations.entry_view(session, version_id, source_ref)
    audit.record(
        session,
        actor=principal,
        action="list_entry.read",
        object_type="list_entry",
        object_id=f"{version_id}:{source_ref}",
        purpose="list_management",
    )
    return EntryOut(
        source=view.source,
        source_ref=view.source_ref,
        version_id=view.version_id,
        entry=view.entry,
        subject=asdict(view.subject),
    )


def _start_delta(request: Request, version_id: int) -> None:
    hook: Callable[[int], None] | None = getattr(request.app.state, "on_version_activated", None)
    if hook is None:
        log.info("list_version.approved", version_id=version_id, delta="monitoring tick")
        return
    try:
        hook(version_id)
    except Exception as exc:  # the broker is down: the tick still finds the version
        log.warning("list_version.delta_enqueue_failed", version_id=version_id, error=type(exc).__name__)
