"""The screening API end to end: FastAPI + a real Celery worker on Redis + SQLite and PostgreSQL + the real UN list."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from kyc import crypto
from kyc.access import Role
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.storage.hits import Hit
from kyc.storage.jobs import Customer, Party, ScreeningJob
from lists.ingest import ingest_files
from tests.support import service as service_support
from tests.support.env import list_file
from tests.support.service import UN_2026, hetu, make_token, wait_for
from workers.enqueue import publish_screening

pytestmark = pytest.mark.slow
celery_worker = service_support.celery_worker
service = service_support.service


def body(**changes: Any) -> dict[str, Any]:
    """A customer whose representative is a real UN-listed person (QDi.430, EMRAAN ALI, born 1967-07-04, TT)."""
    request: dict[str, Any] = {
        "client_reference": "CRM-1042",
        "customer": {"name": "Esimerkki Kauppa Oy", "business_id": "1572860-0", "country": "FI"},
        "persons": [
            {
                "role": "representative",
                "name": "Emraan Ali",
                "birth_date": "1967-07-04",
                "nationality": "TT",
                "personal_id": hetu(date(1967, 7, 4), "-"),
                "declared_pep": False,
            },
            {"role": "beneficial_owner", "name": "Maija Virtanen", "birth_date": "1975-03-02", "ownership": 0.4},
        ],
    }
    request.update(changes)
    return request


@pytest.fixture
def client(service: Settings) -> Iterator[TestClient]:
    ingest_files("un_sc", [list_file(UN_2026)], service)
    app = create_app(service, enqueue=publish_screening)  # the API's own publisher, consumed by the real worker
    with TestClient(app) as test_client:
        yield test_client


def auth(token: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def test_listed_person_completes_with_the_right_hit_and_onboarding_cannot_see_hits(
    client: TestClient, service: Settings
) -> None:
    onboarding = make_token(service.database_url, Role.ONBOARDING)
    analyst = make_token(service.database_url, Role.ANALYST)
    response = client.post("/v1/screenings", json=body(), headers=auth(onboarding, "key-1"))
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert response.json()["status"] == "queued"

    assert wait_for(service.database_url, job_id) == "completed"
    status = client.get(f"/v1/screenings/{job_id}", headers=auth(onboarding))
    assert status.status_code == 200
    assert status.json() == {"id": job_id, "status": "completed", "outcome": "review"}  # nothing more for onboarding

    denied = client.get(f"/v1/screenings/{job_id}/hits", headers=auth(onboarding))
    assert denied.status_code == 403

    hits = client.get(f"/v1/screenings/{job_id}/hits", headers=auth(analyst)).json()["hits"]
    top = hits[0]
    assert (top["source"], top["source_ref"]) == ("un_sc", "QDi.430")
    assert top["party"]["role"] == "representative"
    assert top["score"] >= 0.9 and top["priority"] == "high" and top["status"] == "open"
    assert top["explanation"] and top["version_id"] and top["config_hash"]
    assert not any(h["party"]["role"] == "beneficial_owner" and h["score"] > 0.9 for h in hits)

    detail = client.get(f"/v1/screenings/{job_id}", headers=auth(analyst)).json()
    assert detail["outcome"] == "review" and detail["high_priority_hits"] >= 1
    assert detail["list_versions"] == {"un_sc": top["version_id"]}
    assert detail["legal_basis"].startswith("GDPR Art. 6(1)(c)")
    assert "customer due diligence" in detail["purpose"]
    assert detail["retention_until"][:4] == str(date.today().year + 5)
    representative = detail["parties"][1]
    assert representative["personal_id"] == "040767-****"  # masked in every response


def test_personal_id_is_encrypted_at_rest(client: TestClient, service: Settings) -> None:
    token = make_token(service.database_url, Role.ONBOARDING)
    code = hetu(date(1967, 7, 4), "-")
    job_id = client.post("/v1/screenings", json=body(), headers=auth(token, "enc")).json()["id"]
    with transaction(service.database_url) as session:
        party = session.execute(select(Party).where(Party.job_id == job_id, Party.position == 1)).scalar_one()
        assert party.personal_id_encrypted and code not in party.personal_id_encrypted
        assert crypto.decrypt(party.personal_id_encrypted) == code
        assert party.personal_id_index == crypto.blind_index(code)
    wait_for(service.database_url, job_id)


def test_clear_customer_gets_clear(client: TestClient, service: Settings) -> None:
    token = make_token(service.database_url, Role.ONBOARDING)
    request = body(persons=[{"role": "responsible_person", "name": "Aino Mäkinen", "birth_date": "1990-01-31"}])
    request["customer"]["name"] = "Kahvila Pikku Papu Oy"
    job_id = client.post("/v1/screenings", json=request, headers=auth(token, "clear")).json()["id"]
    wait_for(service.database_url, job_id)
    assert client.get(f"/v1/screenings/{job_id}", headers=auth(token)).json()["outcome"] == "clear"


def test_same_idempotency_key_returns_the_same_job(client: TestClient, service: Settings) -> None:
    token = make_token(service.database_url, Role.ONBOARDING)
    first = client.post("/v1/screenings", json=body(), headers=auth(token, "same-key"))
    again = client.post("/v1/screenings", json=body(), headers=auth(token, "same-key"))
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    other = client.post("/v1/screenings", json=body(client_reference="CRM-9"), headers=auth(token, "same-key"))
    assert other.status_code == 409
    with transaction(service.database_url) as session:
        assert session.scalar(select(func.count()).select_from(ScreeningJob)) == 1
    wait_for(service.database_url, first.json()["id"])


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["persons"][0].update(personal_id="040767-123X"), "persons.0.personal_id"),  # bad checksum
        (lambda b: b["persons"][0].update(birth_date="67-02-30"), "persons.0.birth_date"),  # no date at all
        (lambda b: b["persons"][0].update(birth_date="2990"), "persons.0.birth_date"),
        (lambda b: b["persons"][1].update(nationality="XQ"), "persons.1.nationality"),
        (lambda b: b["customer"].update(business_id="1572860-1"), "customer.business_id"),
        (lambda b: b["persons"][0].update(role="owner"), "persons.0.role"),
        (lambda b: b["persons"][0].update(declared_PEP=True), "persons.0.declared_PEP"),
        (lambda b: b.update(persons=b["persons"][:1] * 51), "persons"),  # KYC_MAX_PERSONS (50)
        (lambda b: b.update(callback_url="ftp://example.org/x"), "callback_url"),
    ],
)
def test_invalid_requests_get_422_naming_the_field_and_store_nothing(
    client: TestClient, service: Settings, mutate: Any, field: str
) -> None:
    token = make_token(service.database_url, Role.ONBOARDING)
    request = copy.deepcopy(body())
    mutate(request)
    response = client.post("/v1/screenings", json=request, headers=auth(token, "bad"))
    assert response.status_code == 422, response.text
    fields = [e["field"] for e in response.json()["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
    assert "040767-123X" not in response.text  # the rejected value is never echoed
    with transaction(service.database_url) as session:
        assert session.scalar(select(func.count()).select_from(ScreeningJob)) == 0
        assert session.scalar(select(func.count()).select_from(Customer)) == 0


def test_partial_and_imperfect_birth_dates_are_screened_and_reported(client: TestClient, service: Settings) -> None:
    onboarding = make_token(service.database_url, Role.ONBOARDING)
    analyst = make_token(service.database_url, Role.ANALYST)
    persons = [
        {"role": "representative", "name": "Emraan Ali", "birth_date": "1967-07-32", "nationality": "TT"},
        {"role": "responsible_person", "name": "Aino Mäkinen", "birth_date": "1946"},
        {"role": "responsible_person", "name": "Eino Mäkinen", "birth_date": 1951},
        {"role": "beneficial_owner", "name": "Maija Virtanen", "birth_date": "1965-4-3", "ownership": 0.4},
    ]
    response = client.post("/v1/screenings", json=body(persons=persons), headers=auth(onboarding, "dates"))
    assert response.status_code == 202, response.text
    assert response.json()["warnings"] == [
        "persons.0.birth_date: day 32 does not exist in 1967-07; screened on the month 1967-07"
    ]
    job_id = response.json()["id"]
    assert wait_for(service.database_url, job_id) == "completed"
    detail = client.get(f"/v1/screenings/{job_id}", headers=auth(analyst)).json()
    dates = {p["name"]: p["birth_date"] for p in detail["parties"]}
    assert dates == {
        "Esimerkki Kauppa Oy": None,
        "Emraan Ali": "1967-07",
        "Aino Mäkinen": "1946",
        "Eino Mäkinen": "1951",
        "Maija Virtanen": "1965-04-03",
    }
    hits = client.get(f"/v1/screenings/{job_id}/hits", headers=auth(analyst)).json()["hits"]
    assert any(h["source_ref"] == "QDi.430" and h["party"]["name"] == "Emraan Ali" for h in hits)
    # a clean request carries no warnings at all
    clean = client.post("/v1/screenings", json=body(), headers=auth(onboarding, "clean"))
    assert "warnings" not in clean.json()
    wait_for(service.database_url, clean.json()["id"])


def test_century_signs_introduced_in_2023_are_accepted(client: TestClient, service: Settings) -> None:
    token = make_token(service.database_url, Role.ONBOARDING)
    persons = [
        {"role": "representative", "name": f"Testi Henkilö {sign}", "personal_id": hetu(born, sign)}
        for born, sign in [
            (date(1999, 1, 1), "Y"),
            (date(1988, 6, 15), "X"),
            (date(1951, 12, 31), "U"),
            (date(2004, 2, 29), "B"),
            (date(2010, 10, 10), "F"),
            (date(1899, 5, 5), "+"),
        ]
    ]
    accepted = client.post("/v1/screenings", json=body(persons=persons), headers=auth(token, "signs"))
    assert accepted.status_code == 202, accepted.text
    wrong_date = [
        {"role": "representative", "name": "X", "personal_id": hetu(date(1999, 1, 1), "Y"), "birth_date": "1999-01-02"}
    ]
    response = client.post("/v1/screenings", json=body(persons=wrong_date), headers=auth(token, "signs-2"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "persons.0"
    assert wait_for(service.database_url, accepted.json()["id"]) == "completed"


def test_onboarding_reads_only_its_own_jobs_and_unauthenticated_gets_401(client: TestClient, service: Settings) -> None:
    mine = make_token(service.database_url, Role.ONBOARDING)
    other = make_token(service.database_url, Role.ONBOARDING)
    job_id = client.post("/v1/screenings", json=body(), headers=auth(mine, "own")).json()["id"]
    assert client.get(f"/v1/screenings/{job_id}", headers=auth(other)).status_code == 404
    assert client.get(f"/v1/screenings/{job_id}").status_code == 401
    assert client.post("/v1/screenings", json=body(), headers={"Idempotency-Key": "x"}).status_code == 401
    analyst = make_token(service.database_url, Role.ANALYST)
    assert client.post("/v1/screenings", json=body(), headers=auth(analyst, "a")).status_code == 403
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    wait_for(service.database_url, job_id)


def test_job_whose_broker_message_was_lost_still_completes(service: Settings) -> None:
    """The API commits the row, the enqueue is lost; the sweeper (a real task on the real worker) recovers it."""
    from workers.tasks import sweep_task

    ingest_files("un_sc", [list_file(UN_2026)], service)
    lost: list[str] = []
    app = create_app(service, enqueue=lost.append)  # "sent" to a broker that drops it
    token = make_token(service.database_url, Role.ONBOARDING)
    with TestClient(app) as client:
        job_id = client.post("/v1/screenings", json=body(), headers=auth(token, "lost")).json()["id"]
        assert lost == [job_id]
        with transaction(service.database_url) as session:
            assert session.get(ScreeningJob, job_id).status == "queued"  # type: ignore[union-attr]
        sweep_task.delay()
        assert wait_for(service.database_url, job_id) == "completed"
        assert client.get(f"/v1/screenings/{job_id}", headers=auth(token)).json()["outcome"] == "review"
    with transaction(service.database_url) as session:
        refs = session.execute(select(Hit.source_ref).where(Hit.job_id == job_id)).scalars().all()
    assert "QDi.430" in refs
