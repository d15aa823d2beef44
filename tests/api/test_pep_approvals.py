"""PEP relationships need senior management's approval: through the API, a real worker on Redis, the real UN list."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from kyc.access import Role
from kyc.settings import Settings
from kyc.submission import PersonSpec
from lists.ingest import ingest_files
from tests.support import service as service_support
from tests.support.env import list_file
from tests.support.review import UN_2026, customer_of, submit
from tests.support.service import make_token, wait_for
from workers.tasks import screen_job_task

pytestmark = pytest.mark.slow
celery_worker = service_support.celery_worker
service = service_support.service
MINISTER = PersonSpec(role="representative", name="Liisa Ministeri", birth_date="1961-02-03", declared_pep=True)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(service: Settings) -> Iterator[TestClient]:
    ingest_files("un_sc", [list_file(UN_2026)], service)
    with TestClient(create_app(service)) as test_client:
        yield test_client


def screened(service: Settings, name: str) -> str:
    job_id = submit(service, name, "0737546-2", (MINISTER,), key=f"{name}-{time.monotonic_ns()}")
    screen_job_task.delay(job_id)
    assert wait_for(service.database_url, job_id) == "completed"
    return job_id


def test_a_pep_stays_review_until_senior_management_approves(client: TestClient, service: Settings) -> None:
    senior = make_token(service.database_url, Role.SENIOR_MANAGER)
    analyst = make_token(service.database_url, Role.ANALYST)
    approver = make_token(service.database_url, Role.APPROVER)
    job_id = screened(service, "Valtio Oy")
    assert client.get(f"/v1/screenings/{job_id}", headers=auth(analyst)).json()["outcome"] == "review"
    customer = customer_of(service, job_id)
    assert customer.edd_required

    pending = client.get("/v1/pep-approvals", headers=auth(senior)).json()["approvals"]
    assert len(pending) == 1 and pending[0]["pep_kind"] == "pep" and pending[0]["basis"]["basis"]
    assert pending[0]["party_name"] == MINISTER.name
    approval = pending[0]["id"]
    for token in (analyst, approver):
        refused = client.post(
            f"/v1/pep-approvals/{approval}/decision", json={"decision": "approve", "reason": "ok"}, headers=auth(token)
        )
        assert refused.status_code == 403
    assert client.get(f"/v1/screenings/{job_id}", headers=auth(analyst)).json()["outcome"] == "review"
    no_reason = client.post(
        f"/v1/pep-approvals/{approval}/decision", json={"decision": "approve", "reason": " "}, headers=auth(senior)
    )
    assert no_reason.status_code == 422
    done = client.post(
        f"/v1/pep-approvals/{approval}/decision",
        json={"decision": "approve", "reason": "source of wealth documented, EDD plan agreed"},
        headers=auth(senior),
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "approved" and done.json()["job_outcome"] == "clear"
    assert client.get(f"/v1/screenings/{job_id}", headers=auth(analyst)).json()["outcome"] == "clear"
    assert customer_of(service, job_id).edd_required  # still under enhanced due diligence
    again = client.post(
        f"/v1/pep-approvals/{approval}/decision", json={"decision": "refuse", "reason": "x"}, headers=auth(senior)
    )
    assert again.status_code == 409
    # A later screening of the same person for the same customer needs no new approval.
    second = screened(service, "Valtio Oy")
    assert client.get(f"/v1/screenings/{second}", headers=auth(analyst)).json()["outcome"] == "clear"
    assert client.get("/v1/pep-approvals", headers=auth(analyst)).json()["approvals"] == []


def test_refusal_ends_onboarding_with_the_reason(client: TestClient, service: Settings) -> None:
    senior = make_token(service.database_url, Role.SENIOR_MANAGER)
    job_id = screened(service, "Toinen Oy")
    approval = client.get("/v1/pep-approvals", headers=auth(senior)).json()["approvals"][0]["id"]
    refused = client.post(
        f"/v1/pep-approvals/{approval}/decision",
        json={"decision": "refuse", "reason": "risk appetite exceeded"},
        headers=auth(senior),
    )
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    customer = customer_of(service, job_id)
    assert customer.refused_reason and "risk appetite exceeded" in customer.refused_reason
    assert customer.relationship_ended_at is not None
    listed = client.get("/v1/pep-approvals", params={"status": "all"}, headers=auth(senior)).json()["approvals"]
    assert [a["reason"] for a in listed] == ["risk appetite exceeded"]
