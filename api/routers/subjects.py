"""``/v1/subjects``: data-subject requests for the data protection officer — export, rectify, erasure.

Look-ups by personal identity code are POST bodies, never URLs, so the code does not reach access logs. What is
exported and what AML law withholds from the subject (decisions and their reasons, escalations, authority
notifications: AML Act 444/2017 ch. 4 §4, ch. 9) is decided in ``kyc.subjects``. Requests that match nobody are
recorded in their own transaction, since the request's transaction is rolled back with the 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field, model_validator

from api.auth import require
from api.deps import SessionDep, SettingsDep
from api.errors import ApiError, not_found
from api.params import FreeText, SingleLineText
from kyc import subjects
from kyc.access import Permission, Principal
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.storage.jobs import Party

router = APIRouter(prefix="/v1/subjects", tags=["data subjects"])
Exporter = Annotated[Principal, Depends(require(Permission.EXPORT_SUBJECT))]
Corrector = Annotated[Principal, Depends(require(Permission.CORRECT_SUBJECT))]


class SubjectLookup(BaseModel):
    personal_id: SingleLineText | None = Field(None, min_length=1, max_length=64, description="Personal identity code.")
    party_id: SingleLineText | None = Field(None, min_length=1, max_length=36)
    reference: SingleLineText | None = Field(None, max_length=128, description="The DPO's own case reference.")

    @model_validator(mode="after")
    def _exactly_one(self) -> SubjectLookup:
        if (self.personal_id is None) == (self.party_id is None):
            raise ValueError("give exactly one of personal_id or party_id")
        return self


class CorrectionIn(BaseModel):
    field: Literal["name", "birth_date", "nationality", "country", "personal_id"]
    value: SingleLineText | None = Field(max_length=500)
    reason: FreeText = Field(min_length=3, max_length=2000)
    reference: SingleLineText | None = Field(None, max_length=128)


class CorrectionOut(BaseModel):
    id: int
    party_id: str
    field: str
    old_value: str | None
    new_value: str | None
    reason: str
    reference: str | None
    corrected_by: str
    corrected_at: datetime


class CorrectionsOut(BaseModel):
    corrections: list[CorrectionOut]


class ErasureOut(BaseModel):
    request_id: int
    outcome: Literal["refused", "fulfilled"]
    legal_reason: str | None
    retention_until: datetime | None
    party_ids: list[str]


def _find(session: SessionDep, lookup: SubjectLookup) -> list[Party]:
    return subjects.find_parties(session, personal_id=lookup.personal_id, party_id=lookup.party_id)


def _not_found(settings: Settings, principal: Principal, kind: str, reference: str | None) -> ApiError:
    with transaction(settings.database_url) as session:
        subjects.record_not_found(session, actor=principal, kind=kind, reference=reference)
    return not_found("data subject")


@router.post("/export")
def export_subject(lookup: SubjectLookup, session: SessionDep, settings: SettingsDep, dpo: Exporter) -> dict[str, Any]:
    """Everything held on one person (personal id decrypted), minus what AML law withholds from the subject."""
    parties = _find(session, lookup)
    if not parties:
        raise _not_found(settings, dpo, "access", lookup.reference)
    return subjects.export_subject(session, parties, actor=dpo, reference=lookup.reference)


@router.get("/parties/{party_id}/corrections", response_model=CorrectionsOut)
def list_corrections(party_id: str, session: SessionDep, dpo: Exporter) -> CorrectionsOut:
    """The corrections made to a party, oldest first; the read is audited (old and new values are in clear)."""
    subjects.get_party(session, party_id)
    rows = subjects.corrections_of(session, party_id, actor=dpo)
    return CorrectionsOut(corrections=[CorrectionOut.model_validate(c) for c in rows])


@router.post("/parties/{party_id}/corrections", response_model=CorrectionOut, status_code=status.HTTP_201_CREATED)
def correct_party(party_id: str, body: CorrectionIn, session: SessionDep, dpo: Corrector) -> CorrectionOut:
    """Rectify one field of a party, recording who, why and the value replaced (personal ids masked); a screened
    field makes the customer due for rescreening at once."""
    party = subjects.get_party(session, party_id)
    correction = subjects.correct_party(
        session, party, field=body.field, value=body.value, reason=body.reason, actor=dpo, reference=body.reference
    )
    return CorrectionOut.model_validate(correction, from_attributes=True)


@router.post("/erasure", response_model=ErasureOut)
def request_erasure(lookup: SubjectLookup, session: SessionDep, settings: SettingsDep, dpo: Corrector) -> ErasureOut:
    """Refused with its legal reason while AML retention or a legal hold applies; the outcome is recorded."""
    parties = _find(session, lookup)
    if not parties:
        raise _not_found(settings, dpo, "erasure", lookup.reference)
    result = subjects.request_erasure(session, parties, actor=dpo, reference=lookup.reference)
    return ErasureOut(
        request_id=result.request_id,
        outcome="refused" if result.outcome == "refused" else "fulfilled",
        legal_reason=result.legal_reason,
        retention_until=result.retention_until,
        party_ids=list(result.party_ids),
    )
