from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.deps import get_settings as api_settings
from api.errors import install
from api.routers.subjects import router as subjects_router
from cli.main import app as cli_app
from kyc import access, audit, crypto, subjects
from kyc.access import Role
from kyc.settings import Settings, get_settings
from kyc.storage.base import utcnow
from kyc.storage.db import get_engine, transaction
from kyc.storage.hits import Hit
from kyc.storage.jobs import Customer, Party, ScreeningJob
from kyc.storage.subjects import SubjectCorrection, SubjectRequest
from kyc.submission import CustomerSpec, JobSpec, PersonSpec, create_job

pytestmark = pytest.mark.usefixtures("encryption_key")

HETU = "170580-123L"  # the example of DESIGN.md (a valid check character)
VALID_HETU = "131052-308T"
OTHER = "010101A123N"


def _job(db_url: str, customer: str, business_id: str, persons: list[PersonSpec], key: str) -> dict[str, str]:
    spec = JobSpec(customer=CustomerSpec(customer, "FI", business_id), persons=tuple(persons))
    with transaction(db_url) as session:
        job, _ = create_job(session, spec, submitted_by="crm", idempotency_key=key, retention_years=5)
        ids = {p.name: p.id for p in job.parties}
        ids["job"] = job.id
        person = next(p for p in job.parties if p.name == "Matti Meikäläinen")
        session.add(
            Hit(
                job_id=job.id,
                party_id=person.id,
                position=0,
                source="un_sc",
                source_ref="QDi.999",
                version_id=1,
                schema="Person",
                score=0.81,
                matched_name="Matti Meikalainen",
                query_name="Matti Meikäläinen",
                explanation={"name": 0.81},
                kind="sanction",
                status="escalated",
                engine_version="test",
                config_hash="0" * 64,
            )
        )
        return ids


@pytest.fixture
def world(db_url: str) -> dict[str, dict[str, str]]:
    matti = PersonSpec("representative", "Matti Meikäläinen", "1980-05-17", "FI", HETU)
    return {
        "first": _job(
            db_url,
            "Esimerkki Oy",
            "1234567-1",
            [matti, PersonSpec("beneficial_owner", "Maija Muu", "2001-01-01", "FI", OTHER, ownership=0.4)],
            "k1",
        ),
        "second": _job(
            db_url,
            "Toinen Oy",
            "7654321-7",
            [PersonSpec("responsible_person", "Matti Meikäläinen", "1980-05-17", "FI", "170580-123l")],
            "k2",
        ),
    }


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | set().union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value)) if value else set()
    return set()


def test_export_by_personal_id_finds_every_record_and_withholds_aml_material(
    db_url: str, world: dict[str, dict[str, str]]
) -> None:
    with transaction(db_url) as session:
        parties = subjects.find_parties(session, personal_id=" 170580-123L")
        assert sorted(p.id for p in parties) == sorted(
            [world["first"]["Matti Meikäläinen"], world["second"]["Matti Meikäläinen"]]
        )
        export = subjects.export_subject(session, parties, actor="u-dpo", reference="DSR-7")
    records = export["records"]
    assert [r["screening"]["customer"]["name"] for r in records] == ["Esimerkki Oy", "Toinen Oy"]
    assert {r["party"]["personal_id"] for r in records} == {HETU, "170580-123l"}  # decrypted for the DPO
    assert records[0]["party"]["birth_date"] == "1980-05-17" and records[0]["party"]["role"] == "representative"
    assert records[0]["screening"]["legal_basis"] and records[0]["screening"]["retention_until"]
    assert records[0]["list_matches"] == [
        {
            "source": "un_sc",
            "source_ref": "QDi.999",
            "list_version_id": 1,
            "matched_name": "Matti Meikalainen",
            "compared_name": "Matti Meikäläinen",
            "score": 0.81,
            "found_at": records[0]["list_matches"][0]["found_at"],
        }
    ]
    text_of_records = json.dumps(records)
    assert "escalated" not in text_of_records and "status" not in _keys(records) and "outcome" not in _keys(records)
    assert "Maija" not in text_of_records  # another person of the same customer is not part of this export
    assert any("444/2017 ch. 4 §4" in w["basis"] for w in export["withheld"])
    with transaction(db_url) as session:
        request = session.get(SubjectRequest, export["request_id"])
        assert request is not None and request.kind == "access" and request.outcome == "fulfilled"
        assert request.reference == "DSR-7" and len(request.party_ids["ids"]) == 2
        entry = audit.entries(session, action="subject.access")[0]
        assert entry.object_id == str(request.id) and entry.purpose == "data_subject_rights"
    with get_engine(db_url).connect() as conn:
        dump = " ".join(str(row) for row in conn.execute(text("SELECT * FROM audit_log")))
        dump += " ".join(str(row) for row in conn.execute(text("SELECT * FROM screening_parties")))
        assert HETU not in dump and "123L" not in dump  # the code is stored encrypted, never in clear


def test_export_by_party_id_includes_the_same_person_elsewhere(db_url: str, world: dict[str, dict[str, str]]) -> None:
    with transaction(db_url) as session:
        by_party = subjects.find_parties(session, party_id=world["second"]["Matti Meikäläinen"])
        assert len(by_party) == 2
        company = subjects.find_parties(session, party_id=world["first"]["Esimerkki Oy"])
        assert [p.role for p in company] == ["customer"]
        assert subjects.find_parties(session, party_id="no-such-party") == []
        assert subjects.find_parties(session, personal_id=VALID_HETU) == []
        with pytest.raises(ValueError, match="exactly one"):
            subjects.find_parties(session)


def _client(db_url: str) -> TestClient:
    app = FastAPI()
    install(app)
    app.dependency_overrides[api_settings] = lambda: Settings(database_url=db_url)
    app.include_router(subjects_router)
    return TestClient(app)


@pytest.fixture
def tokens(db_url: str) -> dict[str, str]:
    with transaction(db_url) as session:
        return {role.value: access.create_user(session, f"user-{role.value}", role)[1] for role in Role}


def _auth(tokens: dict[str, str], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def test_http_export_is_for_the_dpo_only(db_url: str, world: dict[str, dict[str, str]], tokens: dict[str, str]) -> None:
    client = _client(db_url)
    body = {"personal_id": HETU, "reference": "DSR-1"}
    ok = client.post("/v1/subjects/export", json=body, headers=_auth(tokens, "dpo"))
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["records"]) == 2 and ok.json()["records"][0]["party"]["personal_id"] == HETU
    assert client.post("/v1/subjects/export", json=body).status_code == 401
    for role in ("onboarding", "analyst", "approver", "auditor", "admin"):
        assert client.post("/v1/subjects/export", json=body, headers=_auth(tokens, role)).status_code == 403, role
    both = client.post("/v1/subjects/export", json={"personal_id": HETU, "party_id": "x"}, headers=_auth(tokens, "dpo"))
    assert both.status_code == 422
    missing = client.post("/v1/subjects/export", json={"personal_id": VALID_HETU}, headers=_auth(tokens, "dpo"))
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert VALID_HETU not in missing.text
    with transaction(db_url) as session:
        outcomes = session.scalars(select(SubjectRequest.outcome).order_by(SubjectRequest.id)).all()
        assert outcomes == ["fulfilled", "not_found"]
        assert audit.verify(session).ok


def test_corrections_record_who_why_and_the_old_value(
    db_url: str, world: dict[str, dict[str, str]], tokens: dict[str, str]
) -> None:
    client = _client(db_url)
    party_id = world["first"]["Matti Meikäläinen"]
    url = f"/v1/subjects/parties/{party_id}/corrections"
    dpo = _auth(tokens, "dpo")
    named = client.post(
        url, json={"field": "name", "value": "Matti Juhani Meikäläinen", "reason": "passport copy"}, headers=dpo
    )
    assert named.status_code == 201, named.text
    assert named.json()["old_value"] == "Matti Meikäläinen" and named.json()["new_value"] == "Matti Juhani Meikäläinen"
    pid = client.post(url, json={"field": "personal_id", "value": VALID_HETU, "reason": "typo"}, headers=dpo)
    assert pid.status_code == 201, pid.text
    assert pid.json()["old_value"] == "170580-****" and pid.json()["new_value"] == "131052-****"
    country = client.post(url, json={"field": "nationality", "value": "Sweden", "reason": "dual"}, headers=dpo)
    assert country.status_code == 201 and country.json()["new_value"] == "SE"

    bad_check = client.post(url, json={"field": "personal_id", "value": "131052-308A", "reason": "x y"}, headers=dpo)
    assert bad_check.status_code == 422 and "personal_id" in bad_check.json()["message"]
    assert "131052-308A" not in bad_check.text
    for body in (
        {"field": "nationality", "value": "Atlantis", "reason": "why not"},
        {"field": "birth_date", "value": "1980-02-30", "reason": "wrong"},
        {"field": "name", "value": "Matti Juhani Meikäläinen", "reason": "same"},
        {"field": "role", "value": "customer", "reason": "not allowed"},
        {"field": "name", "value": "X", "reason": ""},
    ):
        assert client.post(url, json=body, headers=dpo).status_code == 422, body
    assert (
        client.post(
            "/v1/subjects/parties/nope/corrections",
            json={"field": "name", "value": "A", "reason": "abc"},
            headers=dpo,
        ).status_code
        == 404
    )
    for role in ("analyst", "auditor", "admin", "onboarding"):
        denied = client.post(url, json={"field": "name", "value": "B", "reason": "abc"}, headers=_auth(tokens, role))
        assert denied.status_code == 403, role

    with transaction(db_url) as session:
        party = session.get(Party, party_id)
        assert party is not None and party.name == "Matti Juhani Meikäläinen" and party.nationality == "SE"
        assert crypto.decrypt(party.personal_id_encrypted or "") == VALID_HETU
        assert party.personal_id_index == crypto.blind_index(VALID_HETU)
        assert party.personal_id_masked == "131052-****"
        rows = session.scalars(select(SubjectCorrection).order_by(SubjectCorrection.id)).all()
        assert [r.field for r in rows] == ["name", "personal_id", "nationality"]
        assert {r.corrected_by for r in rows} == {access.authenticate(session, tokens["dpo"]).user_id}  # type: ignore[union-attr]
        assert len(audit.entries(session, action="subject.rectification")) == 3
    listed = client.get(url, headers=dpo).json()["corrections"]
    assert [c["reason"] for c in listed] == ["passport copy", "typo", "dual"]
    export = client.post("/v1/subjects/export", json={"party_id": party_id}, headers=dpo).json()
    assert [c["field"] for c in export["corrections"]] == ["name", "personal_id", "nationality"]
    # Found under the corrected code now, and no longer under the old one for this party.
    assert len(client.post("/v1/subjects/export", json={"personal_id": VALID_HETU}, headers=dpo).json()["records"]) == 1


def test_erasure_is_refused_during_retention_and_recorded(
    db_url: str, world: dict[str, dict[str, str]], tokens: dict[str, str]
) -> None:
    client = _client(db_url)
    dpo = _auth(tokens, "dpo")
    refused = client.post("/v1/subjects/erasure", json={"personal_id": HETU, "reference": "DSR-9"}, headers=dpo)
    assert refused.status_code == 200, refused.text
    body = refused.json()
    assert body["outcome"] == "refused" and len(body["party_ids"]) == 2
    assert "GDPR Art. 17(3)(b)" in body["legal_reason"] and "(444/2017) ch. 3 §3" in body["legal_reason"]
    assert body["retention_until"][:4] >= str(utcnow().year + 5)
    assert (
        client.post("/v1/subjects/erasure", json={"personal_id": HETU}, headers=_auth(tokens, "analyst")).status_code
        == 403
    )
    with transaction(db_url) as session:
        request = session.get(SubjectRequest, body["request_id"])
        assert request is not None and request.outcome == "refused" and request.legal_reason == body["legal_reason"]
        assert len(session.scalars(select(Party).where(Party.personal_id_index.is_not(None))).all()) == 3
        assert audit.entries(session, action="subject.erasure")[0].details["outcome"] == "refused"


def test_erasure_under_legal_hold_and_after_retention(db_url: str, world: dict[str, dict[str, str]]) -> None:
    past = utcnow() - timedelta(days=1)
    with transaction(db_url) as session:
        for job in session.scalars(select(ScreeningJob)):
            job.retention_until = past
        first = session.get(ScreeningJob, world["first"]["job"])
        assert first is not None
        first.legal_hold = True
    with transaction(db_url) as session:
        held = subjects.request_erasure(
            session, subjects.find_parties(session, personal_id=HETU), actor="u-dpo", reference="DSR-10"
        )
        assert held.outcome == "refused" and "legal hold" in (held.legal_reason or "")
    with transaction(db_url) as session:
        first = session.get(ScreeningJob, world["first"]["job"])
        assert first is not None
        first.legal_hold = False
    with transaction(db_url) as session:
        done = subjects.request_erasure(session, subjects.find_parties(session, personal_id=HETU), actor="u-dpo")
        assert done.outcome == "fulfilled" and len(done.party_ids) == 2
    with transaction(db_url) as session:
        assert subjects.find_parties(session, personal_id=HETU) == []
        assert session.scalars(select(Hit)).all() == []  # the hits went with the parties
        remaining = sorted(p.name for p in session.scalars(select(Party)))
        assert remaining == ["Esimerkki Oy", "Maija Muu", "Toinen Oy"]
        assert [r.outcome for r in session.scalars(select(SubjectRequest).order_by(SubjectRequest.id))] == [
            "refused",
            "fulfilled",
        ]
        assert audit.verify(session).ok


def test_key_rotation_reencrypts_stored_personal_ids(
    db_url: str, world: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    old_key, new_key = os.environ["KYC_ENCRYPTION_KEY"], Fernet.generate_key().decode()
    with transaction(db_url) as session:
        before = {p.id: p.personal_id_encrypted for p in session.scalars(select(Party))}
    monkeypatch.setenv("KYC_DATABASE_URL", db_url)

    def use_keys(keys: str) -> None:
        monkeypatch.setenv("KYC_ENCRYPTION_KEY", keys)
        get_settings.cache_clear()
        crypto.get_cipher.cache_clear()

    use_keys(f"{new_key},{old_key}")
    result = CliRunner().invoke(cli_app, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("re-encrypted 3 personal id(s)")
    use_keys(new_key)  # the old key is gone: everything must still decrypt
    with transaction(db_url) as session:
        parties = [p for p in session.scalars(select(Party)) if p.personal_id_encrypted]
        assert all(p.personal_id_encrypted != before[p.id] for p in parties)
        assert sorted(crypto.decrypt(p.personal_id_encrypted or "") for p in parties) == [OTHER, HETU, "170580-123l"]
        assert len(subjects.find_parties(session, personal_id=HETU)) == 2  # re-indexed under the new key
        assert audit.entries(session, action="keys.rotate")[-1].details == {"reencrypted": 3}
    use_keys(Fernet.generate_key().decode())  # a key that never encrypted these rows
    refused = CliRunner().invoke(cli_app, ["keys", "rotate"])
    assert refused.exit_code == 2 and "KYC_ENCRYPTION_KEY cannot decrypt this database" in refused.stderr


def test_export_with_a_lost_key_fails_clearly(
    db_url: str, world: dict[str, dict[str, str]], tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KYC_ENCRYPTION_KEY", Fernet.generate_key().decode())  # the rows' key is gone
    get_settings.cache_clear()
    crypto.get_cipher.cache_clear()
    with transaction(db_url) as session:
        party_id = world["first"]["Maija Muu"]
        assert session.get(Party, party_id) is not None
    failed = _client(db_url).post("/v1/subjects/export", json={"party_id": party_id}, headers=_auth(tokens, "dpo"))
    assert failed.status_code == 503 and failed.json()["code"] == "decryption_failed"
    assert "no longer configured" in failed.json()["message"]
    with transaction(db_url) as session:
        assert session.scalars(select(SubjectRequest)).all() == []  # nothing recorded as fulfilled


def test_reading_corrections_is_audited(db_url: str, world: dict[str, dict[str, str]], tokens: dict[str, str]) -> None:
    """M3: the list shows old and new names and birth dates in clear, so who read it is recorded."""
    client = _client(db_url)
    party_id = world["first"]["Matti Meikäläinen"]
    url = f"/v1/subjects/parties/{party_id}/corrections"
    body = {"field": "birth_date", "value": "1980-05-18", "reason": "birth certificate"}
    assert client.post(url, json=body, headers=_auth(tokens, "dpo")).status_code == 201
    listed = client.get(url, headers=_auth(tokens, "dpo"))
    assert listed.status_code == 200 and listed.json()["corrections"][0]["old_value"] == "1980-05-17"
    assert client.get("/v1/subjects/parties/nope/corrections", headers=_auth(tokens, "dpo")).status_code == 404
    with transaction(db_url) as session:
        reads = audit.entries(session, action="subject.corrections.read")
        assert len(reads) == 1  # the 404 read nobody's data and records nothing
        read = reads[0]
        assert (read.object_type, read.object_id, read.purpose) == ("screening_party", party_id, "data_subject_rights")
        assert read.actor_name == "user-dpo" and read.role == "dpo" and read.details == {"corrections": 1}
        assert audit.verify(session).ok


def _due(session: Session, customer_id: str) -> bool:
    return (
        session.scalars(
            select(Customer.id).where(Customer.id == customer_id, Customer.next_rescreen_at <= utcnow())
        ).first()
        is not None
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Matti Juhani Meikäläinen"),
        ("birth_date", "1980-05-18"),
        ("country", "SE"),
        ("personal_id", VALID_HETU),
    ],
)
def test_correcting_a_screened_field_makes_the_customer_due_for_rescreening(
    db_url: str, world: dict[str, dict[str, str]], field: str, value: str
) -> None:
    """M7: the lists are checked against the corrected data at the next monitoring tick, not months later."""
    party_id = world["first"]["Matti Meikäläinen"]
    with transaction(db_url) as session:
        party = session.get(Party, party_id)
        assert party is not None
        customer_id = party.job.customer_id
        other = session.get(ScreeningJob, world["second"]["job"])
        assert other is not None and other.customer_id != customer_id
        other_id = other.customer_id
        session.execute(update(Customer).values(next_rescreen_at=utcnow() + timedelta(days=180)))
    with transaction(db_url) as session:
        assert not _due(session, customer_id) and not _due(session, other_id)
        party = session.get(Party, party_id)
        assert party is not None
        subjects.correct_party(session, party, field=field, value=value, reason="DSR-7", actor="system:test")
    with transaction(db_url) as session:
        assert _due(session, customer_id) and not _due(session, other_id)
        details = audit.entries(session, action="subject.rectification")[-1].details
        assert details["rescreen_requested"] is True and details["field"] == field
