"""Owned or controlled by listed persons: real worker on Redis, the real UN list, four eyes all the way."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from kyc.access import Principal, Role
from kyc.review import DecisionRefused, case_decisions
from kyc.settings import Settings
from kyc.storage.cases import Case
from kyc.storage.db import transaction
from kyc.submission import PersonSpec
from lists.ingest import ingest_files
from tests.support import service as service_support
from tests.support.env import list_file
from tests.support.review import ADDED, UN_2026, customer_of, submit, user
from tests.support.service import make_token, wait_for
from workers.tasks import screen_job_task

pytestmark = pytest.mark.slow
celery_worker = service_support.celery_worker
service = service_support.service


def owner(ref: str, share: float) -> PersonSpec:
    return replace(ADDED[ref], ownership=share)


def cases_of(settings: Settings, job_id: str) -> dict[str, Case]:
    with transaction(settings.database_url) as session:
        rows = session.execute(select(Case).where(Case.job_id == job_id)).scalars().all()
        return {row.subject_key: row for row in rows}


def confirm(settings: Settings, case_id: str, analyst: Principal, approver: Principal) -> Any:
    with transaction(settings.database_url) as session:
        first = case_decisions.decide_case(session, case_id, "true_match", "same person", analyst, high_score=0.9)
    assert first.status == "proposed"
    with transaction(settings.database_url) as session:
        return case_decisions.decide_case(session, case_id, "true_match", "agreed", approver, high_score=0.9)


def screened(settings: Settings, persons: tuple[PersonSpec, ...]) -> str:
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    job_id = submit(settings, "Omistettu Oy", "0737546-2", persons)
    screen_job_task.delay(job_id)
    assert wait_for(settings.database_url, job_id) == "completed"
    return job_id


def test_two_listed_owners_together_over_half_make_the_customer_designated_after_four_eyes(service: Settings) -> None:
    clean = PersonSpec(role="beneficial_owner", name="Maija Virtanen", birth_date="1975-03-02", ownership=0.45)
    job_id = screened(service, (owner("SDi.007", 0.30), owner("SDi.008", 0.25), clean))
    analyst, approver = user(service, Role.ANALYST), user(service, Role.APPROVER)
    found = cases_of(service, job_id)
    first, second = found["entry:un_sc:SDi.007"], found["entry:un_sc:SDi.008"]

    confirm(service, first.id, analyst, approver)
    assert "ownership" not in cases_of(service, job_id)  # 30% is not enough
    assert customer_of(service, job_id).designation_basis is None
    confirm(service, second.id, analyst, approver)
    case = cases_of(service, job_id)["ownership"]
    assert case.status == "open" and case.basis == "ownership"
    assert case.details and case.details["share"] == pytest.approx(0.55)
    assert sorted(o["share"] for o in case.details["owners"]) == [0.25, 0.30]
    assert customer_of(service, job_id).designation_basis is None  # proposed, never automatic

    with transaction(service.database_url) as session:
        proposal = case_decisions.decide_case(
            session, case.id, "true_match", "55% held by listed", analyst, high_score=0.9
        )
    assert proposal.status == "proposed" and customer_of(service, job_id).designation_basis is None
    with pytest.raises(DecisionRefused), transaction(service.database_url) as session:
        case_decisions.decide_case(session, case.id, "approve", "self", analyst, high_score=0.9)
    with transaction(service.database_url) as session:
        done = case_decisions.decide_case(session, case.id, "true_match", "agreed", approver, high_score=0.9)
    assert done.status == "closed" and done.verdict == "true_match" and done.customer_outcome == "match"
    customer = customer_of(service, job_id)
    assert customer.designation_basis == "owned or controlled by listed person(s)" and customer.blocked_at

    token = make_token(service.database_url, Role.AUDITOR)
    with TestClient(create_app(service)) as client:
        view = client.get(f"/v1/customers/{customer.id}", headers={"Authorization": f"Bearer {token}"}).json()
    assert view["listed_ownership"]["share"] == pytest.approx(0.55)
    assert view["designation_basis"] == "owned or controlled by listed person(s)"


def test_a_listed_representative_controls_the_customer(service: Settings) -> None:
    rep = replace(ADDED["SDi.009"], role="representative")
    job_id = screened(service, (rep,))
    analyst, approver = user(service, Role.ANALYST), user(service, Role.APPROVER)
    confirm(service, cases_of(service, job_id)["entry:un_sc:SDi.009"].id, analyst, approver)
    case = cases_of(service, job_id)["ownership"]
    assert case.details and [c["role"] for c in case.details["controllers"]] == ["representative"]
