"""``/v1/audit``: the audit trail for auditors — paginated entries and chain verification.

Reading the audit log is itself an audited action (who looked, with which filters), appended in the same
transaction as the read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.params import MAX_DB_ID, IsoDateTime
from kyc import audit, checkpoints
from kyc.access import Permission, Principal
from kyc.audit import Verdict

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Auditor = Annotated[Principal, Depends(require(Permission.READ_AUDIT))]


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_name: str | None
    role: str | None
    action: str
    object_type: str
    object_id: str
    purpose: str
    details: dict[str, Any]
    prev_hash: str
    row_hash: str


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_after_id: int | None
    """Pass as ``after_id`` for the next page; null on the last page."""


class VerificationOut(BaseModel):
    ok: bool
    verdict: Verdict = Field(description="What the evidence shows; ``intact`` when ``ok``.")
    checked: int
    first_bad_id: int | None
    reason: str | None
    head_hash: str | None
    checkpoint_entry_id: int | None = Field(description="The newest external checkpoint compared (null: none yet).")
    checkpoint_at: datetime | None
    recorded: bool = Field(description="Whether this verification could itself be audited (not without a head).")


@router.get("", response_model=AuditPage)
def list_entries(
    session: SessionDep,
    auditor: Auditor,
    after_id: Annotated[
        int, Query(ge=0, le=MAX_DB_ID, description="Return entries with a larger id (keyset pagination).")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    actor: Annotated[str | None, Query(max_length=128, description="A user id or system:<component>.")] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    object_type: Annotated[str | None, Query(max_length=64)] = None,
    object_id: Annotated[str | None, Query(max_length=128)] = None,
    since: IsoDateTime | None = None,
    until: IsoDateTime | None = None,
) -> AuditPage:
    """Entries in id order, filtered; the read is recorded before the page is returned."""
    filters = {"actor": actor, "action": action, "object_type": object_type, "object_id": object_id}
    rows = audit.entries(session, after_id=after_id, limit=limit + 1, since=_utc(since), until=_utc(until), **filters)
    page, more = rows[:limit], len(rows) > limit
    audit.record(
        session,
        actor=auditor,
        action="audit.read",
        object_type="audit_log",
        object_id="*",
        purpose="audit",
        details={
            "filters": {k: v for k, v in filters.items() if v is not None},
            "after_id": after_id,
            "returned": len(page),
        },
    )
    return AuditPage(
        entries=[AuditEntryOut.model_validate(row, from_attributes=True) for row in page],
        next_after_id=page[-1].id if more and page else None,
    )


def _utc(moment: datetime | None) -> datetime | None:
    """Query times without a zone are read as UTC, the zone every stored timestamp is in."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get("/verify", response_model=VerificationOut)
def verify_chain(session: SessionDep, settings: SettingsDep, auditor: Auditor) -> VerificationOut:
    """Recompute the whole keyed chain and compare it with its head and the external checkpoints; ``ok`` false
    names the first entry that does not hold and the ``verdict``."""
    result = checkpoints.verify(session, settings)
    try:
        with session.begin_nested():
            audit.record(
                session,
                actor=auditor,
                action="audit.verify",
                object_type="audit_log",
                object_id="*",
                purpose="audit",
                details={
                    "ok": result.ok,
                    "verdict": result.verdict.value,
                    "checked": result.checked,
                    "first_bad_id": result.first_bad_id,
                },
            )
        recorded = True
    except audit.AuditUnavailable:
        recorded = False
    return VerificationOut(
        ok=result.ok,
        verdict=result.verdict,
        checked=result.checked,
        first_bad_id=result.first_bad_id,
        reason=result.reason,
        head_hash=result.head_hash,
        checkpoint_entry_id=result.anchor.entry_id if result.anchor else None,
        checkpoint_at=result.anchor.at if result.anchor else None,
        recorded=recorded,
    )
