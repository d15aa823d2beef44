"""Request and response shapes of ``/v1/screenings`` (DESIGN.md fixes them), validated at the boundary.

Everything a checksum or calendar can reject is rejected here, before anything is stored: Finnish personal identity
codes (all century signs, including B-F and U-Y introduced in 2023) and business IDs with python-stdnum, real
dates, ISO countries, bounded sizes. Unknown fields are refused so that a misspelt ``declared_pep`` cannot silently
default to false.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fi import hetu, ytunnus

from api.params import SingleLineText
from kyc.countries import to_country
from kyc.dates import parse_birth_date
from kyc.storage.jobs import Party
from kyc.submission import CustomerSpec, JobSpec, PersonSpec
from kyc.text import has_letter, strip_invisible

MAX_PERSONS = 1000
"""A hard ceiling for the schema only; the configured limit (``KYC_MAX_PERSONS``) is checked by the router."""
Role = Literal["representative", "responsible_person", "beneficial_owner"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Registration = Annotated[SingleLineText, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
ClientReference = Annotated[SingleLineText, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Status = Literal["queued", "running", "completed", "failed"]
Outcome = Literal["clear", "review", "match"]

_HETU_CENTURY = {"+": 1800, "-": 1900, "Y": 1900, "X": 1900, "W": 1900, "V": 1900, "U": 1900}
_HETU_CENTURY.update(dict.fromkeys("ABCDEF", 2000))


def _country(value: str) -> str:
    code = to_country(value) if len(value.strip()) == 2 else None
    if code is None or code != value.strip().upper():
        raise ValueError("not an ISO 3166-1 alpha-2 country code")  # no echo: error bodies end up in logs
    return code


def _name(value: str) -> str:
    """A name as it is screened and stored: bidi controls, zero-width and other invisible format characters removed
    (``kyc.text``), and refused when no letter is left (three zero-width spaces name nobody)."""
    if any(ord(ch) < 32 for ch in value if ch not in "\t\n\r"):
        raise ValueError("name contains control characters")
    cleaned = " ".join(strip_invisible(value).split())
    if not cleaned:
        raise ValueError("name is blank once invisible characters are removed")
    if not has_letter(cleaned):
        raise ValueError("name holds no letter")
    return cleaned


def hetu_birth_date(code: str) -> date:
    """The birth date a (valid) henkilötunnus encodes."""
    century = _HETU_CENTURY[code[6]]
    return date(century + int(code[4:6]), int(code[2:4]), int(code[0:2]))


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    business_id: Annotated[str, StringConstraints(max_length=16)] | None = Field(
        None, description="Finnish business ID (Y-tunnus), e.g. 1234567-1; checksum validated."
    )
    registration: Registration | None = Field(
        None, description="Foreign registration number when the customer has no Y-tunnus."
    )
    country: str = Field(description="ISO 3166-1 alpha-2 country of registration.", max_length=2)

    @field_validator("name")
    @classmethod
    def _clean_name(cls, value: str) -> str:
        return _name(value)

    @field_validator("country")
    @classmethod
    def _clean_country(cls, value: str) -> str:
        return _country(value)

    @field_validator("business_id")
    @classmethod
    def _business_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ytunnus.format(ytunnus.validate(value)))
        except StdnumError as exc:
            raise ValueError(f"not a valid Finnish business ID (Y-tunnus): {exc}") from exc

    @model_validator(mode="after")
    def _identified(self) -> CustomerIn:
        if not self.business_id and not self.registration:
            raise ValueError("give business_id (Y-tunnus) or a foreign registration")
        if self.country == "FI" and not self.business_id:
            raise ValueError("a Finnish customer needs its business_id (Y-tunnus)")
        return self


class PersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    birth_date: Annotated[str, StringConstraints(max_length=10)] | None = Field(
        None,
        description="YYYY, YYYY-MM or YYYY-MM-DD (unpadded forms too); an impossible day is screened on its month "
        "and reported in the response's warnings.",
    )
    nationality: Annotated[str, StringConstraints(max_length=2)] | None = None
    personal_id: Annotated[str, StringConstraints(max_length=11)] | None = Field(
        None, description="Finnish personal identity code (henkilötunnus); stored encrypted, shown masked."
    )
    ownership: float | None = Field(None, gt=0, le=1, description="Ownership share 0..1 (beneficial owners).")
    declared_pep: bool = False

    @field_validator("name")
    @classmethod
    def _clean_name(cls, value: str) -> str:
        return _name(value)

    @field_validator("nationality")
    @classmethod
    def _nationality(cls, value: str | None) -> str | None:
        return None if value is None else _country(value)

    _warnings: list[str] = PrivateAttr(default_factory=list)

    @field_validator("birth_date", mode="before")
    @classmethod
    def _date_text(cls, value: object) -> object:
        """A JSON number (``1946``) is a year as much as ``"1946"`` is."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("birth_date")
    @classmethod
    def _date_shape(cls, value: str | None) -> str | None:
        """Refuse what is no date (422 on ``persons.N.birth_date``); degrading a day happens after, with a warning."""
        if value is not None:
            parse_birth_date(value)
        return value

    def warnings(self) -> list[str]:
        return list(self._warnings)

    @field_validator("personal_id")
    @classmethod
    def _hetu(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(hetu.validate(value))
        except StdnumError as exc:
            # The message never echoes the code itself: error bodies end up in logs.
            raise ValueError(f"not a valid Finnish personal identity code: {exc}") from exc

    @model_validator(mode="after")
    def _consistent(self) -> PersonIn:
        if self.birth_date is not None:
            parsed = parse_birth_date(self.birth_date)
            self.birth_date = parsed.value
            if parsed.warning:
                self._warnings.append(f"birth_date: {parsed.warning}")
        if self.personal_id and self.birth_date:
            encoded = hetu_birth_date(self.personal_id).isoformat()
            if not encoded.startswith(self.birth_date):
                raise ValueError("birth_date does not agree with the date in personal_id")
        if self.ownership is not None and self.role != "beneficial_owner":
            raise ValueError("ownership is given only for beneficial owners")
        return self


class ScreeningRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "client_reference": "CRM-1042",
                "callback_url": "https://onboarding.example/hooks/kyc",
                "customer": {"name": "Esimerkki Oy", "business_id": "1572860-0", "country": "FI"},
                "persons": [
                    {
                        "role": "representative",
                        "name": "Matti Meikäläinen",
                        "birth_date": "1980-05-17",
                        "nationality": "FI",
                        "personal_id": "170580-123L",
                        "declared_pep": False,
                    },
                    {"role": "beneficial_owner", "name": "Maija Meikäläinen", "ownership": 0.4},
                ],
            }
        },
    )

    client_reference: ClientReference | None = None
    callback_url: AnyHttpUrl | None = Field(None, description="HTTPS URL receiving the signed completion callback.")
    customer: CustomerIn
    persons: list[PersonIn] = Field(default_factory=list, max_length=MAX_PERSONS)

    @field_validator("callback_url")
    @classmethod
    def _url_length(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is not None and len(str(value)) > 2048:
            raise ValueError("callback_url is longer than 2048 characters")
        return value

    def warnings(self) -> list[str]:
        """What was screened less precisely than given (an impossible day of a birth date), by field path."""
        return [f"persons.{i}.{warning}" for i, person in enumerate(self.persons) for warning in person.warnings()]

    @model_validator(mode="after")
    def _ownership_total(self) -> ScreeningRequest:
        total = sum(p.ownership or 0 for p in self.persons)
        if total > 1.0 + 1e-9:
            raise ValueError(f"beneficial owners' ownership adds up to {total:.2f}, more than 1")
        return self

    def to_spec(self) -> JobSpec:
        return JobSpec(
            customer=CustomerSpec(
                name=self.customer.name,
                country=self.customer.country,
                business_id=self.customer.business_id,
                registration=self.customer.registration,
            ),
            persons=tuple(
                PersonSpec(
                    role=p.role,
                    name=p.name,
                    birth_date=p.birth_date,
                    nationality=p.nationality,
                    personal_id=p.personal_id,
                    ownership=p.ownership,
                    declared_pep=p.declared_pep,
                )
                for p in self.persons
            ),
            client_reference=self.client_reference,
            callback_url=str(self.callback_url) if self.callback_url else None,
        )


class ScreeningAccepted(BaseModel):
    id: str
    status: Status
    warnings: list[str] = Field(
        default_factory=list,
        description="Present when something was screened less precisely than given, e.g. "
        "'persons.0.birth_date: day 32 does not exist in 1974-01; screened on the month 1974-01'.",
    )


class PartyOut(BaseModel):
    id: str
    position: int
    role: str
    schema_: str = Field(serialization_alias="schema")
    name: str
    birth_date: str | None = None
    nationality: str | None = None
    country: str | None = None
    business_id: str | None = None
    registration: str | None = None
    personal_id: str | None = Field(None, description="Masked: the birth-date part only.")
    ownership: float | None = None
    declared_pep: bool = False
    pep_status: str | None = None
    pep_basis: dict[str, Any] | None = None
    edd_required: bool = False

    @classmethod
    def from_party(cls, party: Party) -> PartyOut:
        """The one view of a screened party for compliance roles; the identity code only ever masked."""
        return cls(
            id=party.id,
            position=party.position,
            role=party.role,
            schema_=party.schema,
            name=party.name,
            birth_date=party.birth_date,
            nationality=party.nationality,
            country=party.country,
            business_id=party.business_id,
            registration=party.registration,
            personal_id=party.personal_id_masked,
            ownership=party.ownership,
            declared_pep=party.declared_pep,
            pep_status=party.pep_status,
            pep_basis=party.pep_basis,
            edd_required=party.edd_required,
        )


class ScreeningStatus(BaseModel):
    """What the onboarding role sees: nothing more than status and outcome."""

    id: str
    status: Status
    outcome: Outcome | None = None


class ScreeningDetail(ScreeningStatus):
    """What compliance roles see in addition."""

    client_reference: str | None = None
    edd_required: bool = False
    hit_count: int = 0
    high_priority_hits: int = 0
    created_at: datetime
    completed_at: datetime | None = None
    list_versions: dict[str, Any] | None = None
    engine_version: str | None = None
    config_hash: str | None = None
    purpose: str
    legal_basis: str
    retention_until: datetime
    legal_hold: bool = False
    parties: list[PartyOut] = Field(default_factory=list)


class HitParty(BaseModel):
    id: str
    position: int
    role: str
    name: str


class HitOut(BaseModel):
    id: str
    party: HitParty
    source: str
    source_ref: str
    version_id: int | None
    schema_: str = Field(serialization_alias="schema")
    score: float
    matched_name: str
    query_name: str
    explanation: dict[str, Any]
    kind: str
    priority: str
    status: str
    topics: list[str] = Field(default_factory=list)
    engine_version: str
    config_hash: str


class HitsOut(BaseModel):
    hits: list[HitOut]


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: str


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str
    broker: str
    """``ok``, ``unreachable``, or ``embedded`` (no external broker: ``make run``)."""
    index: str
    """``ok`` once this process's matcher index is built; ``building`` before."""


class ErrorField(BaseModel):
    field: str
    loc: list[str | int]
    reason: str


class ErrorOut(BaseModel):
    """Every error answer: a stable machine-readable ``code`` beside the message (``api.errors``)."""

    status: int
    code: str
    message: str
    errors: list[ErrorField] | None = Field(None, description="Validation errors: the field path and the reason.")
