"""Claiming hits and the queue's views of who works what: mine, unassigned, awaiting my approval, overdue, sorting;
on real UN-listed persons, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from kyc import review
from kyc.access import Role
from kyc.errors import Refused
from kyc.matcher_cache import matcher_cache
from kyc.review import claims, queue
from kyc.settings import Settings
from kyc.storage.base import utcnow
from kyc.storage.db import transaction
from kyc.storage.hits import Hit
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


def _ids(settings: Settings, wanted: queue.QueueFilter) -> list[str]:
    with transaction(settings.database_url) as session:
        rows, total = queue.hit_queue(session, wanted, limit=50, offset=0)
    assert total == len(rows)
    return [r.hit.source_ref for r in rows]


def test_claims_and_the_queue_views(settings: Settings, job: str) -> None:
    ann, aino = user(settings, Role.ANALYST, "ann"), user(settings, Role.ANALYST, "aino")
    bob, auditor = user(settings, Role.APPROVER, "bob"), user(settings, Role.AUDITOR, "aud")
    first, second = hit_on(settings, job, "SDi.007"), hit_on(settings, job, "SDi.008")
    with transaction(settings.database_url) as session:
        assert claims.claim(session, [first.id], ann) == 1
        assert claims.claim(session, [first.id], ann) == 0  # already hers
    with transaction(settings.database_url) as session, pytest.raises(claims.ClaimedByAnother):
        claims.claim(session, [first.id], aino)
    with transaction(settings.database_url) as session, pytest.raises(Refused):
        claims.claim(session, [second.id], auditor)
    assert _ids(settings, queue.QueueFilter(assignee_id=ann.user_id)) == ["SDi.007"]
    assert _ids(settings, queue.QueueFilter(unassigned=True)) == ["SDi.008"]
    with transaction(settings.database_url) as session:
        assert claims.assignees(session, [first.id, second.id]) == {first.id: "ann"}

    with transaction(settings.database_url) as session:
        review.decide(session, first.id, "true_match", "same person", ann, high_score=settings.four_eyes_score)
    assert _ids(settings, queue.QueueFilter(awaiting_second_from=bob.user_id)) == ["SDi.007"]
    assert _ids(settings, queue.QueueFilter(awaiting_second_from=ann.user_id)) == []  # not her own proposal
    with transaction(settings.database_url) as session:
        assert claims.proposers(session, [first.id, second.id]) == {first.id: (ann.user_id, "ann")}

    assert _ids(settings, queue.QueueFilter(overdue_after_hours={"high": 24, "normal": 72})) == []
    with transaction(settings.database_url) as session:
        session.execute(update(Hit).where(Hit.id == second.id).values(created_at=utcnow() - timedelta(hours=30)))
    assert _ids(settings, queue.QueueFilter(overdue_after_hours={"high": 24, "normal": 72})) == ["SDi.008"]
    assert _ids(settings, queue.QueueFilter(sort="newest")) == ["SDi.007", "SDi.008"]
    assert _ids(settings, queue.QueueFilter(sort="oldest")) == ["SDi.008", "SDi.007"]
