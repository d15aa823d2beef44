"""Management information on real screenings: open and overdue by priority, mean time to decision, freshness and
coverage; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from kyc import overview
from kyc.access import Role
from kyc.matcher_cache import matcher_cache
from kyc.review import case_decisions
from kyc.settings import Settings
from kyc.storage.base import utcnow
from kyc.storage.cases import Case
from kyc.storage.db import transaction
from lists.ingest import ingest_files
from tests.support.env import list_file
from tests.support.review import ADDED, UN_2026, UNRELATED, hit_on, submit, user
from workers.tasks import run_screening

pytestmark = pytest.mark.usefixtures("encryption_key")


def test_overview_counts_what_supervisors_ask_for(settings: Settings) -> None:
    matcher_cache.clear()
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    listed = submit(settings, "Khartoum Trading Oy", "2077474-0", (ADDED["SDi.007"], ADDED["SDi.008"]))
    clean = submit(settings, "Esimerkki Oy", "1572860-0", (UNRELATED[1],))
    submit(settings, "Never Screened Oy", "0112038-9", (UNRELATED[0],))  # queued: screened against nothing yet
    for job in (listed, clean):
        assert run_screening(settings, job)["status"] == "completed"
    first, second = hit_on(settings, listed, "SDi.007"), hit_on(settings, listed, "SDi.008")
    assert first.case_id and second.case_id and first.case_id != second.case_id
    with transaction(settings.database_url) as session:
        late = utcnow() - timedelta(hours=settings.case_sla_hours["high"] + 1)
        session.execute(update(Case).where(Case.id == second.case_id).values(opened_at=late, priority="high"))
    ann, bob = user(settings, Role.ANALYST, "ann"), user(settings, Role.APPROVER, "bob")
    with transaction(settings.database_url) as session:
        opened = utcnow() - timedelta(hours=10)
        session.execute(update(Case).where(Case.id == first.case_id).values(opened_at=opened, priority="high"))
        score = settings.four_eyes_score
        case_decisions.decide_case(session, first.case_id, "false_positive", "not him", ann, high_score=score)
        case_decisions.decide_case(session, first.case_id, "approve", "agreed", bob, high_score=score)

    with transaction(settings.database_url) as session:
        figures = overview.overview(session, settings)
    high = next(p for p in figures.by_priority if p.priority == "high")
    assert (high.open, high.overdue) == (1, 1)
    assert figures.decided == 1 and figures.mean_hours_to_decision is not None
    assert 9.9 < figures.mean_hours_to_decision < 10.1
    assert [f.source for f in figures.freshness] == ["un_sc"] and figures.freshness[0].version_id is not None
    assert figures.active_customers == 3
    assert [(c.source, c.covered, c.active) for c in figures.coverage] == [("un_sc", 2, 3)]
