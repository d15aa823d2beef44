"""The workbench's case queue tabs and case view over kyc's cases: mine, unassigned, awaiting my approval (never my
own proposal), overdue by ``KYC_CASE_SLA_HOURS``, and the verdicts a case page offers each officer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from api.ui import casework
from kyc.access import Principal, Role
from kyc.matcher_cache import matcher_cache
from kyc.settings import Settings
from kyc.storage.base import utcnow
from kyc.storage.cases import Case
from kyc.storage.db import transaction
from lists.ingest import ingest_files
from tests.support.env import list_file
from tests.support.review import ADDED, UN_2026, hit_on, submit, user
from workers.tasks import run_screening

pytestmark = pytest.mark.usefixtures("encryption_key")


@pytest.fixture
def job(settings: Settings) -> str:
    matcher_cache.clear()
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    job_id = submit(settings, "Khartoum Trading Oy", "2077474-0", (ADDED["SDi.007"], ADDED["SDi.008"]))
    assert run_screening(settings, job_id)["status"] == "completed"
    return job_id


def _tab(settings: Settings, principal: Principal, tab: str) -> list[str]:
    with transaction(settings.database_url) as session:
        page = casework.queue_page(session, principal, casework.QueueQuery(tab=tab), settings)
    return sorted(r.id for r in page.rows)


def test_queue_tabs_and_case_verdicts(settings: Settings, job: str) -> None:
    ann, bob = user(settings, Role.ANALYST, "ann"), user(settings, Role.APPROVER, "bob")
    first, second = hit_on(settings, job, "SDi.007").case_id, hit_on(settings, job, "SDi.008").case_id
    assert first and second and first != second
    assert _tab(settings, ann, "open") == sorted([first, second])
    with transaction(settings.database_url) as session:
        assert casework.claim(session, [first], ann) == 1
    assert _tab(settings, ann, "mine") == [first]
    assert _tab(settings, ann, "unassigned") == [second]
    assert _tab(settings, bob, "mine") == []

    with transaction(settings.database_url) as session:
        casework.decide(session, first, "true_match", "same person", ann, settings)
    assert _tab(settings, bob, "awaiting") == [first]
    assert _tab(settings, ann, "awaiting") == []  # not her own proposal
    with transaction(settings.database_url) as session:  # nor in the tab's count
        assert casework.queue_page(session, ann, casework.QueueQuery(tab="awaiting"), settings).total == 0
        assert casework.queue_page(session, bob, casework.QueueQuery(tab="awaiting"), settings).total == 1
    with transaction(settings.database_url) as session:
        own = casework.case(session, first, ann, settings)
        other = casework.case(session, first, bob, settings)
    assert own.status == "proposed" and own.proposal and own.proposal["user_name"] == "ann"
    assert own.verdicts == [] and other.verdicts == ["approve", "reject"]
    assert own.subject.listings and own.hits and own.hits[0].explanation

    assert _tab(settings, ann, "overdue") == []
    with transaction(settings.database_url) as session:
        session.execute(update(Case).where(Case.id == second).values(opened_at=utcnow() - timedelta(hours=30)))
    hours = settings.case_sla_hours
    with transaction(settings.database_url) as session:
        priority = session.get(Case, second).priority  # type: ignore[union-attr]
    assert _tab(settings, ann, "overdue") == ([second] if hours[priority] < 30 else [])
    strict = settings.model_copy(update={"case_sla_hours": {"high": 1.0, "normal": 1.0}})
    with transaction(settings.database_url) as session:
        page = casework.queue_page(session, ann, casework.QueueQuery(tab="overdue"), strict)
    assert [r.id for r in page.rows] == [second] and page.rows[0].overdue

    with transaction(settings.database_url) as session:
        casework.comment(session, second, ann, "checked the passport copy")
        view = casework.case(session, second, bob, settings)
    assert [c.text for c in view.comments] == ["checked the passport copy"]
