"""Data-subject rights (GDPR Art. 15-17) for the people screened, within what AML law allows.

* **Access (export).** Everything held on one person — found by personal identity code through the blind index,
  or by party id — with the personal id decrypted for the data protection officer. Left out, as AML law withholds
  it from the subject: suspicion and reporting material, i.e. officers' hit decisions and their reasons,
  escalations, job and hit review states, and notifications to the Financial Intelligence Unit or other
  authorities (AML Act 444/2017 ch. 4 §4 on the prohibition of disclosure, ch. 9 on restricting the data subject's
  right of access; GDPR Art. 23). The export is built from an explicit allow-list of fields, so a table added later
  (e.g. decisions) is never exported by accident; its ``withheld`` section always lists these categories, whether
  or not such material exists, so its presence reveals nothing.
* **Rectification.** A field of a party is corrected with who, why and the value it replaced (personal ids only
  masked), because the screening that used the old value must stay explainable. The customer is then made due for
  monitoring at once (``kyc.customers.request_rescreen``): the lists must be checked against the corrected data,
  not only against what was wrong. Reading the corrections (old and new values in clear) is audited too.
* **Erasure.** Refused while the AML retention period runs (GDPR Art. 17(3)(b): processing required by a legal
  obligation; AML Act 444/2017 ch. 3 §3: customer due diligence records are kept five years after the customer
  relationship ends) or under a legal hold; the refusal and its reason are recorded. Once retention has expired
  the parties are erased at once instead of waiting for the purge task.

Every request is stored in ``subject_requests`` and audited (ids and counts only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc import audit, crypto, customers
from kyc.access import Principal
from kyc.customers import CORRECTABLE, InvalidCorrection
from kyc.errors import Invalid, NotFound
from kyc.storage.base import utcnow
from kyc.storage.hits import Hit
from kyc.storage.jobs import Customer, Party, ScreeningJob
from kyc.storage.subjects import SubjectCorrection, SubjectRequest

PURPOSE = "data_subject_rights"
WITHHELD = (
    {
        "category": "compliance officers' decisions on list matches, their reasons and review states",
        "basis": "AML Act 444/2017 ch. 4 §4 (prohibition of disclosure), ch. 9; GDPR Art. 23",
    },
    {
        "category": "escalations and internal suspicion assessments",
        "basis": "AML Act 444/2017 ch. 4 §4, ch. 9; GDPR Art. 23",
    },
    {
        "category": "reports and notifications to the Financial Intelligence Unit or other authorities",
        "basis": "AML Act 444/2017 ch. 4 §4, ch. 9; GDPR Art. 23",
    },
)
ERASURE_REFUSED = (
    "Erasure refused: the data is processed to comply with a legal obligation (GDPR Art. 17(3)(b)). The Act on "
    "Preventing Money Laundering and Terrorist Financing (444/2017) ch. 3 §3 requires customer due diligence "
    "records to be kept for five years after the customer relationship ends; they are kept until {until} and "
    "then deleted automatically."
)
LEGAL_HOLD_REFUSED = (
    "Erasure refused: the records are under a legal hold (GDPR Art. 17(3)(b) and (e): a legal obligation and the "
    "establishment, exercise or defence of legal claims); they are deleted when the hold ends and the AML "
    "retention period (AML Act 444/2017 ch. 3 §3) has expired."
)
SCREENED = frozenset({"name", "birth_date", "nationality", "country", "personal_id"})
"""Fields whose correction changes a screening: the first four are matched against the lists; the personal id
identifies the person whose earlier PEP status and decisions a screening carries over (``kyc.screening``)."""


class SubjectNotFound(NotFound):
    pass


@dataclass(frozen=True)
class ErasureResult:
    request_id: int
    outcome: str
    """``refused`` or ``fulfilled``."""
    legal_reason: str | None
    retention_until: datetime | None
    party_ids: tuple[str, ...]


def get_party(session: Session, party_id: str) -> Party:
    party = session.get(Party, party_id)
    if party is None:
        raise NotFound("party not found")
    return party


def find_parties(session: Session, *, personal_id: str | None = None, party_id: str | None = None) -> list[Party]:
    """All party rows of one person: by the blind index of the code, or a party and its namesakes by code."""
    if (personal_id is None) == (party_id is None):
        raise Invalid("give exactly one of personal_id or party_id")
    if personal_id is not None:
        indexes = crypto.blind_indexes(personal_id)  # every key the code may be indexed under (rotation)
    else:
        party = session.get(Party, party_id)
        if party is None:
            return []
        if party.personal_id_encrypted is None or party.personal_id_index is None:
            return [party]
        indexes = crypto.blind_indexes(crypto.decrypt(party.personal_id_encrypted))
    query = select(Party).where(Party.personal_id_index.in_(indexes))
    return list(session.scalars(query.join(ScreeningJob).order_by(ScreeningJob.created_at, Party.position)).all())


def _actor_id(actor: Principal | str) -> str:
    return actor if isinstance(actor, str) else actor.user_id


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _party_data(party: Party) -> dict[str, Any]:
    personal_id = crypto.decrypt(party.personal_id_encrypted) if party.personal_id_encrypted else None
    return {
        "party_id": party.id,
        "role": party.role,
        "schema": party.schema,
        "name": party.name,
        "birth_date": party.birth_date,
        "nationality": party.nationality,
        "country": party.country,
        "personal_id": personal_id,
        "ownership": party.ownership,
        "declared_pep": party.declared_pep,
        "pep_status": party.pep_status,
        "pep_basis": party.pep_basis,
        "enhanced_due_diligence": party.edd_required,
    }


def _screening_data(job: ScreeningJob, customer: Customer) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "requested_at": _iso(job.created_at),
        "completed_at": _iso(job.completed_at),
        "trigger": job.trigger,
        "purpose": job.purpose,
        "legal_basis": job.legal_basis,
        "retention_until": _iso(job.retention_until),
        "lists_used": job.list_versions,
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "business_id": customer.business_id,
            "country": customer.country,
        },
    }


def _matches(session: Session, party: Party) -> list[dict[str, Any]]:
    """The list entries the person's data was compared with and resembled — without any review state."""
    hits = session.scalars(select(Hit).where(Hit.party_id == party.id).order_by(Hit.position)).all()
    return [
        {
            "source": hit.source,
            "source_ref": hit.source_ref,
            "list_version_id": hit.version_id,
            "matched_name": hit.matched_name,
            "compared_name": hit.query_name,
            "score": hit.score,
            "found_at": _iso(hit.created_at),
        }
        for hit in hits
    ]


def _corrections(session: Session, party_ids: Sequence[str]) -> list[SubjectCorrection]:
    query = select(SubjectCorrection).where(SubjectCorrection.party_id.in_(party_ids))
    return list(session.scalars(query.order_by(SubjectCorrection.id)).all())


def _correction_data(correction: SubjectCorrection) -> dict[str, Any]:
    return {
        "id": correction.id,
        "party_id": correction.party_id,
        "field": correction.field,
        "old_value": correction.old_value,
        "new_value": correction.new_value,
        "reason": correction.reason,
        "reference": correction.reference,
        "corrected_by": correction.corrected_by,
        "corrected_at": _iso(correction.corrected_at),
    }


def _record_request(
    session: Session,
    *,
    actor: Principal | str,
    kind: str,
    outcome: str,
    parties: Sequence[Party],
    reference: str | None,
    legal_reason: str | None = None,
    retention: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> SubjectRequest:
    request = SubjectRequest(
        kind=kind,
        outcome=outcome,
        legal_reason=legal_reason,
        party_ids={"ids": [p.id for p in parties]},
        reference=reference,
        handled_by=_actor_id(actor),
        retention_until=retention,
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"subject.{kind}",
        object_type="subject_request",
        object_id=str(request.id),
        purpose=PURPOSE,
        details={"outcome": outcome, "parties": [p.id for p in parties], **(details or {})},
    )
    return request


def record_not_found(session: Session, *, actor: Principal | str, kind: str, reference: str | None) -> int:
    """A request that matched nobody is still a request the DPO has answered."""
    return _record_request(session, actor=actor, kind=kind, outcome="not_found", parties=[], reference=reference).id


def export_subject(
    session: Session, parties: Sequence[Party], *, actor: Principal | str, reference: str | None = None
) -> dict[str, Any]:
    """The data-subject access export (GDPR Art. 15) minus what AML law withholds; recorded and audited."""
    if not parties:
        raise SubjectNotFound("no screening record holds this person")
    records = []
    for party in parties:
        job = party.job
        records.append(
            {
                "party": _party_data(party),
                "screening": _screening_data(job, job.customer),
                "list_matches": _matches(session, party),
            }
        )
    corrections = [_correction_data(c) for c in _corrections(session, [p.id for p in parties])]
    request = _record_request(
        session,
        actor=actor,
        kind="access",
        outcome="fulfilled",
        parties=parties,
        reference=reference,
        details={"records": len(records)},
    )
    return {
        "request_id": request.id,
        "generated_at": _iso(request.at),
        "records": records,
        "corrections": corrections,
        "withheld": list(WITHHELD),
    }


def correct_party(
    session: Session,
    party: Party,
    *,
    field: str,
    value: str | None,
    reason: str,
    actor: Principal | str,
    reference: str | None = None,
) -> SubjectCorrection:
    """Rectify one field (GDPR Art. 16) through the one correction path (``kyc.customers.correct_party``); a
    screened field makes the customer due for rescreening at once."""
    if field not in CORRECTABLE:
        raise InvalidCorrection(f"field: {field!r} cannot be corrected; one of {', '.join(CORRECTABLE)}", field="field")
    (correction,) = customers.correct_party(
        session, party, {field: value}, reason=reason, corrected_by=_actor_id(actor), reference=reference
    )
    rescreen = field in SCREENED
    if rescreen:
        customers.request_rescreen(session, party.job.customer_id)
    _record_request(
        session,
        actor=actor,
        kind="rectification",
        outcome="fulfilled",
        parties=[party],
        reference=reference,
        details={"field": field, "correction_id": correction.id, "rescreen_requested": rescreen},
    )
    return correction


def corrections_of(session: Session, party_id: str, *, actor: Principal | str) -> list[dict[str, Any]]:
    """A party's corrections, oldest first; audited because they show old and new personal data in clear."""
    corrections = [_correction_data(c) for c in _corrections(session, [party_id])]
    audit.record(
        session,
        actor=actor,
        action="subject.corrections.read",
        object_type="screening_party",
        object_id=party_id,
        purpose=PURPOSE,
        details={"corrections": len(corrections)},
    )
    return corrections


def request_erasure(
    session: Session,
    parties: Sequence[Party],
    *,
    actor: Principal | str,
    reference: str | None = None,
    now: datetime | None = None,
) -> ErasureResult:
    """Refuse while retention or a legal hold applies (recording why); erase at once when neither does."""
    if not parties:
        raise SubjectNotFound("no screening record holds this person")
    moment = now or utcnow()
    jobs = {p.job.id: p.job for p in parties}
    held = any(j.legal_hold or j.customer.legal_hold for j in jobs.values())
    until = max(j.retention_until for j in jobs.values())
    ids = tuple(p.id for p in parties)
    if held or until > moment:
        reason = LEGAL_HOLD_REFUSED if held else ERASURE_REFUSED.format(until=until.date().isoformat())
        request = _record_request(
            session,
            actor=actor,
            kind="erasure",
            outcome="refused",
            parties=parties,
            reference=reference,
            legal_reason=reason,
            retention=until,
            details={"legal_hold": held},
        )
        return ErasureResult(request.id, "refused", reason, until, ids)
    request = _record_request(
        session, actor=actor, kind="erasure", outcome="fulfilled", parties=parties, reference=reference
    )
    for party in parties:
        session.delete(party)
    session.flush()
    return ErasureResult(request.id, "fulfilled", None, None, ids)


def reencrypt_personal_ids(session: Session, cipher: crypto.Cipher | None = None, batch_size: int = 500) -> int:
    """Re-encrypt every stored personal id under the current key and recompute its blind index.

    Key rotation: prepend the new key to ``KYC_ENCRYPTION_KEY`` (and ``KYC_BLIND_INDEX_KEY``), run this, then drop
    the old keys: everything is now encrypted and indexed under the current ones (``kyc.keycheck.renew``).
    """
    active = cipher or crypto.get_cipher()
    done, last_id = 0, ""
    while True:
        parties = session.scalars(
            select(Party)
            .where(Party.personal_id_encrypted.is_not(None), Party.id > last_id)
            .order_by(Party.id)
            .limit(batch_size)
        ).all()
        if not parties:
            break
        for party in parties:
            assert party.personal_id_encrypted is not None
            plain = active.decrypt(party.personal_id_encrypted)
            party.personal_id_encrypted = active.rotate(party.personal_id_encrypted)
            party.personal_id_index = active.blind_index(plain)
            done += 1
        last_id = parties[-1].id
        session.flush()
    audit.record(
        session,
        actor="system:keys",
        action="keys.rotate",
        object_type="screening_party",
        object_id="*",
        purpose="security",
        details={"reencrypted": done},
    )
    return done
