"""Cases through a REAL Celery worker on Redis, against the real UN, UK OFSI and OFAC SDN files.

KO TAE HUN is designated by the UN (KPi.025), the UK (OFSI group 13335, carrying the UN reference) and OFAC (SDN
18555, the same passport): one case with three hits; the later SDN file changes 18555.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kyc import cases
from kyc.access import Principal, Role
from kyc.matcher_cache import matcher_for
from kyc.review import DecisionRefused, ReviewError, case_decisions
from kyc.review import cases as workflow
from kyc.settings import Settings
from kyc.storage.cases import Case
from kyc.storage.db import transaction
from kyc.storage.hits import Hit
from kyc.submission import PersonSpec
from tests.support import service as service_support
from tests.support.cases import KO_TAE_HUN, SDN_2021, SDN_2024, UK_OFSI, UN_2026, ingest
from tests.support.review import ADDED, UN_2025, UNRELATED, submit, user
from tests.support.service import wait_for
from workers.monitoring import run_delta
from workers.tasks import screen_job_task

pytestmark = pytest.mark.slow
celery_worker = service_support.celery_worker
service = service_support.service
SUBJECT = "subject:un:KPI.025"


def screen(settings: Settings, job_id: str) -> None:
    screen_job_task.delay(job_id)
    assert wait_for(settings.database_url, job_id, timeout=60) == "completed"


def the_case(settings: Settings, job_id: str) -> tuple[Case, list[Hit]]:
    with transaction(settings.database_url) as session:
        case = session.execute(select(Case).where(Case.job_id == job_id, Case.subject_key == SUBJECT)).scalar_one()
        hits = list(session.execute(select(Hit).where(Hit.case_id == case.id).order_by(Hit.source)).scalars())
        return case, hits


def decide(settings: Settings, case_id: str, verdict: str, who: Principal, reason: str = "checked") -> object:
    with transaction(settings.database_url) as session:
        return case_decisions.decide_case(session, case_id, verdict, reason, who, high_score=settings.four_eyes_score)


def test_one_designation_on_three_lists_is_one_case_decided_once_and_reopened_by_a_changed_listing(
    service: Settings,
) -> None:
    ingest(service, "un_sc", UN_2026)
    ingest(service, "uk_ofsi", UK_OFSI)
    ingest(service, "ofac_sdn", *SDN_2021)
    person = PersonSpec(role="representative", **KO_TAE_HUN)
    job_id = submit(service, "Pyongyang Trading Oy", "0737546-2", (person, *UNRELATED))
    screen(service, job_id)

    case, hits = the_case(service, job_id)
    assert [(h.source, h.source_ref) for h in hits] == [
        ("ofac_sdn", "18555"),
        ("uk_ofsi", "13335"),
        ("un_sc", "KPi.025"),
    ]
    assert case.status == "open" and sorted(case.sources) == ["ofac_sdn", "uk_ofsi", "un_sc"]
    with transaction(service.database_url) as session:
        party_cases = session.execute(select(Case).where(Case.party_id == case.party_id)).scalars().all()
    assert [c.id for c in party_cases if c.subject_key == SUBJECT] == [case.id]

    analyst, approver = user(service, Role.ANALYST), user(service, Role.APPROVER)
    first = decide(service, case.id, "false_positive", analyst, "different person: born 1980, Finnish citizen")
    assert first.status == "proposed" and first.four_eyes and len(first.hits) == 3  # type: ignore[attr-defined]
    with pytest.raises(DecisionRefused, match="approve_decision"):
        decide(service, case.id, "approve", analyst)
    second = decide(service, case.id, "false_positive", approver, "agreed")
    assert second.status == "closed" and second.verdict == "false_positive"  # type: ignore[attr-defined]
    case, hits = the_case(service, job_id)
    assert {h.status for h in hits} == {"dismissed"} and case.status == "closed"
    with pytest.raises(ReviewError):
        decide(service, case.id, "false_positive", analyst)

    # An unchanged list keeps it closed; the later SDN file changes 18555 and reopens it, saying why.
    version = ingest(service, "ofac_sdn", *SDN_2024)
    run_delta(service, version)
    case, hits = the_case(service, job_id)
    assert case.status == "open", case.reopen_reason
    assert "ofac_sdn 18555 changed" in (case.reopen_reason or "")
    assert {(h.source, h.status) for h in hits} == {
        ("ofac_sdn", "open"),
        ("uk_ofsi", "dismissed"),
        ("un_sc", "dismissed"),
    }
    with transaction(service.database_url) as session:
        view = workflow.case_view(session, case.id, analyst, sla_hours=service.case_sla_hours)
    assert [item.source for item in view.subject.listings] == ["un_sc", "uk_ofsi", "ofac_sdn"]
    assert [item.action for item in view.history if item.kind == "event"][-1] == "reopened"


def test_status_is_derived_from_the_hits() -> None:
    assert cases.derive(["dismissed", "open"], assigned=False) == (cases.CaseStatus.OPEN, None)
    assert cases.derive(["open"], assigned=True) == (cases.CaseStatus.IN_REVIEW, None)
    assert cases.derive(["proposed", "escalated"], assigned=False) == (cases.CaseStatus.ESCALATED, None)
    assert cases.derive(["proposed", "dismissed"], assigned=False) == (cases.CaseStatus.PROPOSED, None)
    assert cases.derive(["confirmed", "dismissed"], assigned=False) == (
        cases.CaseStatus.CLOSED,
        cases.CaseVerdict.TRUE_MATCH,
    )
    assert cases.derive(["suppressed", "delisted"], assigned=False) == (
        cases.CaseStatus.CLOSED,
        cases.CaseVerdict.FALSE_POSITIVE,
    )


def test_a_new_listing_of_the_subject_reopens_a_dismissed_case(service: Settings) -> None:
    ingest(service, "un_sc", UN_2026)
    job_id = submit(service, "Kaesong Oy", "0737546-2", (PersonSpec(role="representative", **KO_TAE_HUN),))
    screen(service, job_id)
    with transaction(service.database_url) as session:
        case = session.execute(select(Case).where(Case.job_id == job_id)).scalar_one()
    assert case.subject_key == "entry:un_sc:KPi.025"  # the UN entry alone: no other list links it yet
    analyst, approver = user(service, Role.ANALYST), user(service, Role.APPROVER)
    decide(service, case.id, "false_positive", analyst, "another person")
    assert decide(service, case.id, "false_positive", approver).status == "closed"  # type: ignore[attr-defined]

    version = ingest(service, "uk_ofsi", UK_OFSI)  # the UK lists the same UN designation
    with transaction(service.database_url) as session:
        moved = session.get(Case, case.id)
        assert moved is not None and moved.subject_key == SUBJECT and moved.status == "closed"  # it follows its subject
    run_delta(service, version)
    reopened, hits = the_case(service, job_id)
    assert reopened.id == case.id and reopened.status == "open"
    assert reopened.reopen_reason == "new listing of the subject: uk_ofsi 13335"
    assert [(h.source, h.status) for h in hits] == [("uk_ofsi", "open"), ("un_sc", "dismissed")]


def test_priority_is_the_same_from_first_screening_and_from_a_delta(service: Settings) -> None:
    ingest(service, "un_sc", UN_2025)
    person = ADDED["SDi.008"]  # added by the 2026 list
    early = submit(service, "Early Oy", "0737546-2", (person,))
    screen(service, early)
    run_delta(service, ingest(service, "un_sc", UN_2026))
    matcher_for(service, wait=True)  # the worker thread shares it: the late job is screened on the new version
    late = submit(service, "Late Oy", "1572860-0", (person,))
    screen(service, late)
    with transaction(service.database_url) as session:
        found = {
            case.job_id: (case.priority, case.kind, case.top_score, case.status)
            for case in session.execute(select(Case).where(Case.job_id.in_([early, late]))).scalars()
        }
    assert found[early] == found[late] and found[early][3] == "open"
