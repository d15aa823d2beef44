"""``/v1/customers``: a customer's monitoring state, correcting a party (rescreen), risk, ending the relationship.

A party correction rescreens the customer at once, in the request, against every active list (one customer takes
milliseconds once the matcher is built): the officer sees the resulting hits — and reopened dismissals, whose
``reopen_reason`` says the party's data changed — in the response. Ending the relationship stops monitoring and
starts the retention clock (``kyc.retention``), and is refused while the case is undecided or frozen.

A correction keeps the values it replaces (``subject_corrections``: old and new value, who and why), so that an
earlier screening of the party can still be explained.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api import refusals
from api.auth import require
from api.deps import ScreenerDep, SessionDep, SettingsDep
from api.params import FreeText
from kyc import audit, customers, monitoring, ownership, review
from kyc.access import Permission, Principal
from kyc.countries import to_country
from kyc.dates import parse_birth_date
from kyc.storage.base import utcnow
from kyc.text import has_letter, strip_invisible

router = APIRouter(prefix="/v1/customers", tags=["customers"])
Reader = Annotated[Principal, Depends(require(Permission.READ_HITS))]
Updater = Annotated[Principal, Depends(require(Permission.UPDATE_CUSTOMER))]
Ender = Annotated[Principal, Depends(require(Permission.END_RELATIONSHIP))]


class NotificationOut(BaseModel):
    id: int
    authority: str
    source: str
    source_ref: str
    status: str
    hit_id: str | None
    created_by: str
    created_at: datetime


class CustomerOut(BaseModel):
    id: str
    name: str
    country: str
    risk: str
    outcome: str | None
    blocked: bool
    blocked_at: datetime | None
    current_job_id: str | None
    last_rescreened_at: datetime | None
    next_rescreen_at: datetime | None
    relationship_ended_at: datetime | None
    retention_until: datetime
    notifications: list[NotificationOut]
    designation_basis: str | None = Field(None, description="Set when listed persons own or control the customer.")
    listed_ownership: dict[str, Any] | None = Field(
        None, description="The share held by beneficial owners confirmed as sanctions matches, and who they are."
    )
    edd_required: bool = False
    refused_reason: str | None = None


class PartyPatch(BaseModel):
    """The screened fields an officer may correct; anything else is refused."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    birth_date: str | None = Field(None, description="YYYY, YYYY-MM or YYYY-MM-DD.")
    nationality: str | None = Field(None, max_length=2)
    country: str | None = Field(None, max_length=2)
    reason: FreeText = Field(
        min_length=1,
        max_length=review.MAX_REASON,
        description="Why the data is corrected: kept with the old and new values (``subject_corrections``).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        cleaned = " ".join(strip_invisible(value).split())
        if not cleaned or any(ord(ch) < 32 for ch in cleaned):
            raise ValueError("name is blank or contains control characters")
        if not has_letter(cleaned):
            raise ValueError("name holds no letter")
        return cleaned

    @field_validator("birth_date")
    @classmethod
    def _birth_date(cls, value: str | None) -> str | None:
        """An officer's correction is taken exactly: an impossible day is refused with the reason, not degraded."""
        if value is None:
            return None
        parsed = parse_birth_date(value)
        if parsed.warning:
            raise ValueError(parsed.warning)
        return parsed.value

    @field_validator("nationality", "country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = to_country(value) if len(value) == 2 else None
        if code is None or code != value.upper():
            raise ValueError("not an ISO 3166-1 alpha-2 country code")  # the rejected value is not echoed
        return code


class RescreenOut(BaseModel):
    customer_id: str
    party_id: str
    changed_fields: list[str]
    new_hits: int
    reopened: int
    outcome: str | None
    hits: list[dict[str, object]]


class RiskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    risk: customers.Risk


class EndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ended_on: date | None = Field(None, description="The day the relationship ended; today when omitted.")


def _out(found: customers.CustomerView, held: ownership.ListedOwnership | None = None) -> CustomerOut:
    customer = found.customer
    return CustomerOut(
        id=customer.id,
        name=customer.name,
        country=customer.country,
        risk=customer.risk,
        outcome=customer.outcome,
        blocked=customer.blocked_at is not None,
        blocked_at=customer.blocked_at,
        current_job_id=found.current_job_id,
        last_rescreened_at=customer.last_rescreened_at,
        next_rescreen_at=customer.next_rescreen_at,
        relationship_ended_at=customer.relationship_ended_at,
        retention_until=customer.retention_until,
        notifications=[NotificationOut.model_validate(n, from_attributes=True) for n in found.notifications],
        designation_basis=customer.designation_basis,
        listed_ownership=(
            {"share": held.share, "threshold": held.threshold, "owners": held.owners, "controllers": held.controllers}
            if held
            else None
        ),
        edd_required=customer.edd_required,
        refused_reason=customer.refused_reason,
    )


@router.get("/{customer_id}", response_model=CustomerOut)
def get_customer(customer_id: str, principal: Reader, session: SessionDep, settings: SettingsDep) -> CustomerOut:
    """Outcome after decisions, block, authority notifications, the monitoring schedule and the share of the
    customer held by listed persons."""
    found = customers.view(session, customer_id)
    held = (
        ownership.listed_ownership(session, found.current_job_id, settings.ownership_threshold)
        if found.current_job_id
        else None
    )
    audit.record(session, actor=principal, action="customer.read", object_type="customer", object_id=customer_id)
    return _out(found, held)


@router.patch("/{customer_id}/parties/{party_id}", response_model=RescreenOut)
def patch_party(
    customer_id: str,
    party_id: str,
    body: PartyPatch,
    principal: Updater,
    session: SessionDep,
    settings: SettingsDep,
    screener: ScreenerDep,
) -> RescreenOut:
    """Correct a party's screened data; the customer is rescreened at once against every active list."""
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    result = monitoring.correct_and_rescreen(
        session,
        customer_id,
        party_id,
        changes,
        reason=body.reason,
        actor=principal,
        screener=screener,
        rescreen_days=settings.rescreen_days,
        high_priority_score=settings.high_priority_score,
    )
    return RescreenOut(
        customer_id=result.customer_id,
        party_id=result.party_id,
        changed_fields=result.changed_fields,
        new_hits=result.stats.new_hits,
        reopened=result.stats.reopened,
        outcome=result.outcome,
        hits=[
            {"id": h.id, "source": h.source, "source_ref": h.source_ref, "status": h.status, "reason": h.reopen_reason}
            for h in result.hits
        ],
    )


@router.put("/{customer_id}/risk", response_model=CustomerOut)
def put_risk(
    customer_id: str, body: RiskIn, principal: Updater, session: SessionDep, settings: SettingsDep
) -> CustomerOut:
    """Set the customer's risk: the full rescreen then comes round every ``settings.rescreen_days[risk]`` days."""
    customers.set_risk(session, customer_id, body.risk, settings.rescreen_days)
    audit.record(
        session,
        actor=principal,
        action="customer.risk",
        object_type="customer",
        object_id=customer_id,
        details={"risk": body.risk},
    )
    return _out(customers.view(session, customer_id))


@router.post(
    "/{customer_id}/end-relationship",
    response_model=CustomerOut,
    responses={409: {"description": "Already ended, blocked, or hits awaiting a decision"}},
)
def end_relationship(
    customer_id: str, body: EndIn, principal: Ender, session: SessionDep, settings: SettingsDep
) -> CustomerOut:
    """Stop monitoring the customer and start its retention period (``retention_years`` from the end).

    Refused (409, with the reason) while the customer is blocked or has proposed, escalated or confirmed hits: such
    a case stays monitored and retained until officers resolve it. ``ended_on`` may not precede the customer's last
    activity (422), so the retention clock cannot be wound back to make the purge delete a live case.
    """
    customers.get(session, customer_id)
    moment = utcnow()
    ended = moment if body.ended_on is None else datetime.combine(body.ended_on, moment.timetz())
    with refusals.recorded(
        settings,
        session,
        principal,
        action="customer.end_relationship.refused",
        object_type="customer",
        object_id=customer_id,
        kinds=(customers.EndRefused,),
        purpose=audit.DEFAULT_PURPOSE,
        reason_chars=300,
    ):
        until = customers.end_relationship(session, customer_id, ended, settings.retention_years, now=moment)
    audit.record(
        session,
        actor=principal,
        action="customer.end_relationship",
        object_type="customer",
        object_id=customer_id,
        details={"retention_until": until.isoformat()},
    )
    return _out(customers.view(session, customer_id))
