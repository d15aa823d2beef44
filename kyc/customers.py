"""The customer relationship: risk and rescreen schedule, rescreen requests, correcting a party, ending it.

**Schedule.** Every screening of a customer sets its next full rescreen by its risk (``settings.rescreen_days``);
changing the risk moves it. A correction of a party's data makes the customer due at once.

**Correcting a party** (:func:`correct_party`) is the one rectification path, whether an officer fixes screened
data or the data protection officer fulfils a data subject's request (GDPR Art. 16): each changed field is kept as
a :class:`~kyc.storage.subjects.SubjectCorrection` with the value it replaced (personal ids only masked), who
corrected it and why, so that an earlier screening stays explainable for the retention period.

**Ending the relationship** (:func:`end_relationship`) stops monitoring and starts the retention clock. It is
refused while the customer is blocked or has a proposed, escalated or confirmed sanctions hit, and cannot be dated
before the customer's last activity: those cases stay monitored and retained until officers resolve them (see also
the purge's hold in ``kyc.retention``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session
from stdnum.exceptions import ValidationError
from stdnum.fi import hetu

from kyc import crypto
from kyc.countries import to_country
from kyc.dates import InvalidDate, parse_birth_date
from kyc.errors import Conflict, Invalid, NotFound
from kyc.hits import HitKind, HitStatus
from kyc.outcome import current_job_id
from kyc.retention import end_relationship as record_end
from kyc.storage.base import utcnow
from kyc.storage.hits import AuthorityNotification, Hit
from kyc.storage.jobs import Customer, Party, ScreeningJob
from kyc.storage.subjects import SubjectCorrection
from kyc.text import has_letter, strip_invisible


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


RISKS = tuple(r.value for r in Risk)
DEFAULT_RESCREEN_DAYS = 180
CORRECTABLE = ("name", "birth_date", "nationality", "country", "personal_id")
PERSON_ONLY = frozenset({"birth_date", "nationality", "personal_id"})
REQUIRED = frozenset({"name", "personal_id"})
MAX_NAME = 500
UNRESOLVED = (HitStatus.PROPOSED.value, HitStatus.ESCALATED.value)
"""Hit statuses that keep a customer's relationship from ending until officers resolve them. A confirmed
*sanctions* hit does too (it freezes the case); a confirmed PEP hit does not: PEP status calls for enhanced due
diligence, not for keeping the data beyond retention."""
_HETU_SHAPE = re.compile(r"^\d{6}[-+ABCDEFUVWXY]\d{3}[0-9A-Y]$")


class InvalidCorrection(Invalid):
    code = "invalid_correction"


class EndRefused(Conflict):
    """The relationship cannot end now (already ended, blocked, or hits awaiting or holding a decision)."""


class EndDateInvalid(Invalid):
    """The end date is in the future or before the customer's last activity."""


def get(session: Session, customer_id: str, *, lock: bool = False) -> Customer:
    customer = session.get(Customer, customer_id, with_for_update=lock)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer


# --- risk and schedule -------------------------------------------------------------------------------------------


def schedule(session: Session, customer_ids: Iterable[str], rescreen_days: Mapping[str, int], now: datetime) -> None:
    """Rescreened now; next time by risk."""
    by_risk: dict[str, list[str]] = defaultdict(list)
    for customer_id, risk in session.execute(
        select(Customer.id, Customer.risk).where(Customer.id.in_(list(customer_ids)))
    ):
        by_risk[risk].append(customer_id)
    for risk, ids in by_risk.items():
        days = rescreen_days.get(risk, rescreen_days.get("medium", DEFAULT_RESCREEN_DAYS))
        session.execute(
            update(Customer)
            .where(Customer.id.in_(ids))
            .values(last_rescreened_at=now, next_rescreen_at=now + timedelta(days=days))
            .execution_options(synchronize_session=False)
        )


def set_risk(
    session: Session, customer_id: str, risk: str, rescreen_days: Mapping[str, int], now: datetime | None = None
) -> datetime | None:
    """Change a customer's risk; the next rescreen moves accordingly (from the last one, or now)."""
    if risk not in RISKS:
        raise Invalid(f"risk: {risk!r} is not one of {', '.join(RISKS)}", field="risk")
    customer = get(session, customer_id, lock=True)
    customer.risk = risk
    if customer.relationship_ended_at is None:
        base = customer.last_rescreened_at or now or utcnow()
        customer.next_rescreen_at = base + timedelta(days=rescreen_days.get(risk, DEFAULT_RESCREEN_DAYS))
    return customer.next_rescreen_at


def request_rescreen(session: Session, customer_id: str, now: datetime | None = None) -> None:
    """Make the customer due now (e.g. after a correction): the next monitoring tick rescreens it."""
    session.execute(
        update(Customer)
        .where(Customer.id == customer_id, Customer.relationship_ended_at.is_(None))
        .values(next_rescreen_at=now or utcnow())
    )


# --- correcting a party ------------------------------------------------------------------------------------------


def _birth_date(value: str) -> str:
    """A correction is taken exactly: what ``kyc.dates`` would degrade (an impossible day) is refused instead."""
    try:
        parsed = parse_birth_date(value)
    except InvalidDate as exc:
        raise InvalidCorrection(f"birth_date: {exc}", field="birth_date") from exc
    if parsed.warning:
        raise InvalidCorrection(f"birth_date: {parsed.warning.split(';')[0]}", field="birth_date")
    return parsed.value


def _personal_id(value: str) -> str:
    code = crypto.normalise_personal_id(value)
    if len(code) > 64:
        raise InvalidCorrection("personal_id: longer than 64 characters", field="personal_id")
    if _HETU_SHAPE.match(code):
        try:
            hetu.validate(code, allow_temporary=True)
        except ValidationError as exc:
            raise InvalidCorrection(
                f"personal_id: not a valid Finnish personal identity code ({exc})", field="personal_id"
            ) from exc
    return code


def _normalise(field: str, value: str | None) -> str | None:
    """The stored form of a corrected value; ``None`` clears an optional field."""
    if value is None or not value.strip():
        if field in REQUIRED:
            raise InvalidCorrection(f"{field}: a value is required", field=field)
        return None
    value = " ".join(value.split())
    if field == "name":
        value = " ".join(strip_invisible(value).split())
        if not has_letter(value):
            raise InvalidCorrection("name: no letter once invisible characters are removed", field="name")
        if len(value) > MAX_NAME:
            raise InvalidCorrection(f"name: longer than {MAX_NAME} characters", field="name")
        return value
    if field == "birth_date":
        return _birth_date(value)
    if field in ("nationality", "country"):
        code = to_country(value)
        if code is None:
            raise InvalidCorrection(f"{field}: not a known country name or ISO code", field=field)
        return code
    return _personal_id(value)


def _apply(party: Party, field: str, value: str | None) -> tuple[str | None, str | None] | None:
    """Set one field; ``(old shown, new shown)`` for the record, or None when nothing changes."""
    if field == "personal_id":
        assert value is not None  # required
        if party.personal_id_index in crypto.blind_indexes(value):  # under any key in use (rotation)
            return None
        old = party.personal_id_masked
        party.personal_id_encrypted = crypto.encrypt(value)
        party.personal_id_index = crypto.blind_index(value)
        party.personal_id_masked = crypto.mask_personal_id(value)
        return old, party.personal_id_masked
    old_value: str | None = getattr(party, field)
    if old_value == value:
        return None
    setattr(party, field, value)
    return old_value, value


def correct_party(
    session: Session,
    party: Party,
    changes: Mapping[str, str | None],
    *,
    reason: str,
    corrected_by: str,
    reference: str | None = None,
) -> list[SubjectCorrection]:
    """Rectify a party's fields, keeping each replaced value; refuses fields that cannot be corrected, a person's
    fields on an organisation, a missing reason and a correction that changes nothing. The caller rescreens."""
    text = reason.strip()
    if not text:
        raise InvalidCorrection("reason: say why the data is corrected", field="reason")
    if not changes:
        raise InvalidCorrection("body: no field to correct")
    unknown = sorted(set(changes) - set(CORRECTABLE))
    if unknown:
        raise InvalidCorrection(f"{', '.join(unknown)}: cannot be corrected; one of {', '.join(CORRECTABLE)}")
    if party.schema != "Person" and PERSON_ONLY & set(changes):
        fields = ", ".join(sorted(PERSON_ONLY & set(changes)))
        raise InvalidCorrection(f"{fields}: only persons have them")
    normalised = {field: _normalise(field, value) for field, value in sorted(changes.items())}
    rows = []
    for field, value in normalised.items():
        shown = _apply(party, field, value)
        if shown is not None:
            rows.append(
                SubjectCorrection(
                    party_id=party.id,
                    field=field,
                    old_value=shown[0],
                    new_value=shown[1],
                    reason=text,
                    reference=reference,
                    corrected_by=corrected_by,
                )
            )
    if not rows:
        raise InvalidCorrection(f"{', '.join(normalised)}: the new value equals the current one")
    session.add_all(rows)
    session.flush()
    return rows


def current_party(session: Session, customer: Customer, party_id: str) -> Party:
    """A party of the customer's current screening (earlier ones are history), locked for a correction."""
    if customer.relationship_ended_at is not None:
        raise Conflict(f"customer {customer.id}: the relationship has ended; it is not monitored")
    job_id = current_job_id(session, customer.id)
    party = session.get(Party, party_id, with_for_update=True)
    if party is None or job_id is None or party.job_id != job_id:
        raise NotFound(f"party {party_id} in the current screening of customer {customer.id} not found")
    return party


# --- ending the relationship -------------------------------------------------------------------------------------


def last_activity(session: Session, customer: Customer) -> datetime:
    """The latest of the customer's creation and its screenings' submission and completion."""
    latest = session.execute(
        select(func.max(ScreeningJob.created_at), func.max(ScreeningJob.completed_at)).where(
            ScreeningJob.customer_id == customer.id
        )
    ).one()
    moments: list[datetime] = [customer.created_at, *(moment for moment in latest if moment is not None)]
    return max(moments)


def end_refusal(session: Session, customer: Customer) -> str | None:
    """Why the relationship cannot end now, or None. A backdated end would start the retention clock early and let
    the purge delete a frozen or undecided case, so these customers stay until the case is resolved."""
    if customer.blocked_at is not None:
        return "the customer is blocked after a confirmed sanctions match; it stays until the block is resolved"
    rows = session.execute(
        select(Hit.status, func.count())
        .join(ScreeningJob, ScreeningJob.id == Hit.job_id)
        .where(
            ScreeningJob.customer_id == customer.id,
            or_(
                Hit.status.in_(UNRESOLVED),
                and_(Hit.status == HitStatus.CONFIRMED.value, Hit.kind == HitKind.SANCTION.value),
            ),
        )
        .group_by(Hit.status)
        .order_by(Hit.status)
    ).all()
    if rows:
        counts = ", ".join(f"{count} {status}" for status, count in rows)
        return f"the customer has hits awaiting or holding a decision ({counts}); it stays until they are resolved"
    return None


def end_relationship(
    session: Session, customer_id: str, ended_at: datetime, retention_years: int, now: datetime | None = None
) -> datetime:
    """Stop monitoring the customer and start its retention clock; returns the new ``retention_until``.

    Raises :class:`EndRefused` (see :func:`end_refusal`) or :class:`EndDateInvalid` (future, or a day before the
    customer's last activity; on that very day the end is taken no earlier than the activity).
    """
    customer = get(session, customer_id, lock=True)
    if customer.relationship_ended_at is not None:
        raise EndRefused(f"customer {customer_id}: the relationship already ended")
    moment = now or utcnow()
    if ended_at > moment:
        raise EndDateInvalid("ended_on: must not be in the future", field="ended_on")
    active = last_activity(session, customer)
    if ended_at.date() < active.date():
        raise EndDateInvalid(
            f"ended_on: must not be before the customer's last activity ({active.date().isoformat()})",
            field="ended_on",
        )
    refusal = end_refusal(session, customer)
    if refusal is not None:
        raise EndRefused(f"customer {customer_id}: {refusal}")
    until = record_end(session, customer_id, max(ended_at, active), retention_years)
    session.execute(update(Customer).where(Customer.id == customer_id).values(next_rescreen_at=None))
    return until


# --- what an officer sees ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerView:
    customer: Customer
    current_job_id: str | None
    notifications: Sequence[AuthorityNotification]


def view(session: Session, customer_id: str) -> CustomerView:
    """The customer with its current screening and its authority notifications, oldest first."""
    customer = get(session, customer_id)
    notifications = (
        session.execute(
            select(AuthorityNotification)
            .where(AuthorityNotification.customer_id == customer.id)
            .order_by(AuthorityNotification.id)
        )
        .scalars()
        .all()
    )
    return CustomerView(customer, current_job_id(session, customer.id), notifications)
