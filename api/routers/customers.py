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
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.errors import ApiError, not_found
from api.params import FreeText
from kyc import audit, monitoring, review
from kyc.access import Permission, Principal
from kyc.countries import to_country
from kyc.entry import PartialDate
from kyc.matching import config_from_settings, matcher_cache
from kyc.screening import MatcherScreener
from kyc.settings import Settings
from kyc.storage.base import utcnow
from kyc.storage.db import transaction
from kyc.storage.hits import AuthorityNotification, Hit
from kyc.storage.jobs import Customer, Party
from kyc.storage.subjects import SubjectCorrection

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
        cleaned = " ".join(value.split())
        if not cleaned or any(ord(ch) < 32 for ch in cleaned):
            raise ValueError("name is blank or contains control characters")
        return cleaned

    @field_validator("birth_date")
    @classmethod
    def _birth_date(cls, value: str | None) -> str | None:
        if value is not None:
            PartialDate(date=value)  # raises with the reason on an impossible date
        return value

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
    risk: Literal["low", "medium", "high"]


class EndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ended_on: date | None = Field(None, description="The day the relationship ended; today when omitted.")


def _customer(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise not_found(f"customer {customer_id}")
    return customer


def _out(session: Session, customer: Customer) -> CustomerOut:
    notifications = session.execute(
        select(AuthorityNotification)
        .where(AuthorityNotification.customer_id == customer.id)
        .order_by(AuthorityNotification.id)
    ).scalars()
    return CustomerOut(
        id=customer.id,
        name=customer.name,
        country=customer.country,
        risk=customer.risk,
        outcome=customer.outcome,
        blocked=customer.blocked_at is not None,
        blocked_at=customer.blocked_at,
        current_job_id=review.current_job_id(session, customer.id),
        last_rescreened_at=customer.last_rescreened_at,
        next_rescreen_at=customer.next_rescreen_at,
        relationship_ended_at=customer.relationship_ended_at,
        retention_until=customer.retention_until,
        notifications=[
            NotificationOut(
                id=n.id,
                authority=n.authority,
                source=n.source,
                source_ref=n.source_ref,
                status=n.status,
                hit_id=n.hit_id,
                created_by=n.created_by,
                created_at=n.created_at,
            )
            for n in notifications
        ],
    )


@router.get("/{customer_id}", response_model=CustomerOut)
def get_customer(customer_id: str, principal: Reader, session: SessionDep) -> CustomerOut:
    """Outcome after decisions, block, authority notifications and the monitoring schedule."""
    customer = _customer(session, customer_id)
    audit.record(session, actor=principal, action="customer.read", object_type="customer", object_id=customer.id)
    return _out(session, customer)


def _current_party(session: Session, customer: Customer, party_id: str) -> Party:
    """Only a party of the customer's current screening can be corrected: earlier ones are history."""
    job_id = review.current_job_id(session, customer.id)
    party = session.get(Party, party_id, with_for_update=True)
    if party is None or job_id is None or party.job_id != job_id:
        raise not_found(f"party {party_id} in the current screening of customer {customer.id}")
    return party


def _correct(session: Session, party: Party, changes: dict[str, str | None], reason: str, who: Principal) -> list[int]:
    """Apply the changes, keeping each replaced value in a ``SubjectCorrection`` (who, when, why, old and new), so
    the earlier screening stays explainable for the retention period; returns the correction ids (for the audit)."""
    rows = []
    for name, value in sorted(changes.items()):
        old = getattr(party, name)
        if old == value:
            continue
        rows.append(
            SubjectCorrection(
                party_id=party.id, field=name, old_value=old, new_value=value, reason=reason, corrected_by=who.user_id
            )
        )
        setattr(party, name, value)
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


@router.patch("/{customer_id}/parties/{party_id}", response_model=RescreenOut)
def patch_party(
    customer_id: str, party_id: str, body: PartyPatch, principal: Updater, session: SessionDep, settings: SettingsDep
) -> RescreenOut:
    """Correct a party's screened data; the customer is rescreened at once against every active list."""
    customer = _customer(session, customer_id)
    if customer.relationship_ended_at is not None:
        raise ApiError(409, "conflict", f"customer {customer_id}: the relationship has ended; it is not monitored")
    party = _current_party(session, customer, party_id)
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    if not changes:
        raise ApiError(422, "validation_error", "body: no field to correct")
    if "name" in changes and changes["name"] is None:
        raise ApiError(422, "validation_error", "name: a party cannot be left without a name")
    if party.schema != "Person" and {"birth_date", "nationality"} & set(changes):
        raise ApiError(422, "validation_error", "birth_date, nationality: only persons have them")
    if not body.reason.strip():
        raise ApiError(422, "validation_error", "reason: say why the data is corrected")
    corrections = _correct(session, party, changes, body.reason.strip(), principal)
    audit.record(
        session,
        actor=principal,
        action="party.update",
        object_type="screening_party",
        object_id=party.id,
        details={"fields": sorted(changes), "corrections": corrections},
    )
    screener = MatcherScreener(matcher_cache.get(settings.database_url, config_from_settings(settings)))
    stats = monitoring.rescreen_customers(
        session, [customer.id], screener, rescreen_days=settings.rescreen_days, origin="party"
    )
    hits = session.execute(select(Hit).where(Hit.party_id == party.id).order_by(Hit.position)).scalars()
    return RescreenOut(
        customer_id=customer.id,
        party_id=party.id,
        changed_fields=sorted(changes),
        new_hits=stats.new_hits,
        reopened=stats.reopened,
        outcome=customer.outcome,
        hits=[
            {"id": h.id, "source": h.source, "source_ref": h.source_ref, "status": h.status, "reason": h.reopen_reason}
            for h in hits
        ],
    )


@router.put("/{customer_id}/risk", response_model=CustomerOut)
def put_risk(
    customer_id: str, body: RiskIn, principal: Updater, session: SessionDep, settings: SettingsDep
) -> CustomerOut:
    """Set the customer's risk: the full rescreen then comes round every ``settings.rescreen_days[risk]`` days."""
    customer = _customer(session, customer_id)
    monitoring.set_risk(session, customer.id, body.risk, settings.rescreen_days)
    audit.record(
        session,
        actor=principal,
        action="customer.risk",
        object_type="customer",
        object_id=customer.id,
        details={"risk": body.risk},
    )
    return _out(session, customer)


def _audit_refused_end(settings: Settings, principal: Principal, customer_id: str, message: str) -> None:
    """In its own transaction: the request's is rolled back with the 409, the attempt must stay on record."""
    with transaction(settings.database_url) as session:
        audit.record(
            session,
            actor=principal,
            action="customer.end_relationship.refused",
            object_type="customer",
            object_id=customer_id,
            details={"reason": message[:300]},
        )


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
    customer = _customer(session, customer_id)
    moment = utcnow()
    ended = moment if body.ended_on is None else datetime.combine(body.ended_on, moment.timetz())
    try:
        until = monitoring.end_relationship(session, customer.id, ended, settings.retention_years, now=moment)
    except monitoring.EndDateInvalid as exc:
        raise ApiError(422, "validation_error", str(exc)) from exc
    except monitoring.EndRefused as exc:
        session.rollback()
        _audit_refused_end(settings, principal, customer.id, str(exc))
        raise ApiError(409, "conflict", str(exc)) from exc
    audit.record(
        session,
        actor=principal,
        action="customer.end_relationship",
        object_type="customer",
        object_id=customer.id,
        details={"retention_until": until.isoformat()},
    )
    session.refresh(customer)
    return _out(session, customer)
