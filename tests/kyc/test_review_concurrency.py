"""Two approvers answer the same proposal at the same moment: exactly one second decision may pass, on SQLite too.

On SQLite ``SELECT … FOR UPDATE`` does nothing, so both sessions are made to read the proposed hit before either
writes (a barrier in the ``loaded_as_persistent`` event): the race the conditional UPDATE in ``kyc.review`` closes.
On PostgreSQL the row lock already serialises them; the same test shows the second decider gets the conflict.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import event, select

from kyc import review
from kyc.access import Principal, Role
from kyc.matcher_cache import matcher_cache
from kyc.review import ReviewError
from kyc.settings import Settings
from kyc.storage.db import session_factory
from kyc.storage.hits import BlockLift, Hit, HitDecision
from kyc.storage.jobs import Customer, ScreeningJob
from lists.ingest import ingest_files
from tests.support.env import list_file
from tests.support.review import REMOVED, UN_2025, hit_on, submit, user
from workers.tasks import run_screening


@pytest.fixture
def proposed(settings: Settings) -> tuple[Settings, str]:
    """A real UN hit (IQi.074) with an analyst's true_match proposal waiting for the second decision."""
    matcher_cache.clear()
    ingest_files("un_sc", [list_file(UN_2025)], settings)
    job_id = submit(settings, "Rinnakkain Oy", "1572860-0", (REMOVED,))
    assert run_screening(settings, job_id)["status"] == "completed"
    hit_id = hit_on(settings, job_id, "IQi.074").id
    session = session_factory(settings.database_url)()
    try:
        review.decide(session, hit_id, "true_match", "same person", user(settings, Role.ANALYST), high_score=0.9)
        session.commit()
    finally:
        session.close()
    return settings, hit_id


def test_two_concurrent_second_decisions_cannot_both_pass(proposed: tuple[Settings, str]) -> None:
    settings, hit_id = proposed
    approvers = [user(settings, Role.APPROVER), user(settings, Role.APPROVER)]
    sqlite = settings.database_url.startswith("sqlite")
    both_read = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def second_decision(principal: Principal, verdict: str) -> None:
        session = session_factory(settings.database_url)()
        if sqlite:

            @event.listens_for(session, "loaded_as_persistent")
            def wait_for_the_other(_session: Any, instance: object) -> None:
                if isinstance(instance, Hit) and not both_read.broken:
                    both_read.wait()  # both sessions now hold status "proposed" in hand

        try:
            outcomes[verdict] = review.decide(session, hit_id, verdict, "second look", principal, high_score=0.9)
            session.commit()
        except Exception as exc:  # the test inspects what each decider got
            session.rollback()
            outcomes[verdict] = exc
        finally:
            session.close()

    threads = [
        threading.Thread(target=second_decision, args=(approvers[0], "approve")),
        threading.Thread(target=second_decision, args=(approvers[1], "reject")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    passed = {verdict for verdict, got in outcomes.items() if isinstance(got, review.DecisionResult)}
    refused = [got for got in outcomes.values() if isinstance(got, ReviewError)]
    assert len(passed) == 1 and len(refused) == 1, outcomes
    assert "no longer proposed" in str(refused[0]) or "there is no proposal" in str(refused[0])
    session = session_factory(settings.database_url)()
    try:
        decisions = session.execute(
            select(HitDecision.decision).where(HitDecision.hit_id == hit_id).order_by(HitDecision.id)
        ).scalars()
        assert list(decisions) == ["true_match", *passed]
        hit = session.get(Hit, hit_id)
        assert hit is not None
        assert hit.status == ("confirmed" if passed == {"approve"} else "open")
    finally:
        session.close()


def test_two_approvers_deciding_one_block_lift_at_once_cannot_both_pass(proposed: tuple[Settings, str]) -> None:
    """The same race for lifting a block: an approval and a rejection of one request, both having read it open."""
    settings, hit_id = proposed
    first, second, third = (user(settings, Role.APPROVER) for _ in range(3))
    session = session_factory(settings.database_url)()
    try:
        result = review.decide(session, hit_id, "approve", "confirmed", first, high_score=0.9)
        assert result.customer_blocked and result.notification_id is not None
        review.mark_notification_sent(session, result.notification_id, first, reference="UO-1")
        hit = session.get(Hit, hit_id)
        assert hit is not None
        customer_id = session.execute(
            select(ScreeningJob.customer_id).where(ScreeningJob.id == hit.job_id)
        ).scalar_one()
        lift_id = review.request_block_lift(session, customer_id, "confirmed_in_error", "wrong person", first).id
        session.commit()
    finally:
        session.close()
    sqlite = settings.database_url.startswith("sqlite")
    both_read = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def decide_lift(principal: Principal, decision: str) -> None:
        session = session_factory(settings.database_url)()
        if sqlite:

            @event.listens_for(session, "loaded_as_persistent")
            def wait_for_the_other(_session: Any, instance: object) -> None:
                if isinstance(instance, BlockLift) and not both_read.broken:
                    both_read.wait()

        try:
            outcomes[decision] = review.decide_block_lift(session, lift_id, decision, "second look", principal)
            session.commit()
        except Exception as exc:  # the test inspects what each decider got
            session.rollback()
            outcomes[decision] = exc
        finally:
            session.close()

    threads = [
        threading.Thread(target=decide_lift, args=(second, "approve")),
        threading.Thread(target=decide_lift, args=(third, "reject")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    passed = [got for got in outcomes.values() if isinstance(got, BlockLift)]
    refused = [got for got in outcomes.values() if isinstance(got, ReviewError)]
    assert len(passed) == 1 and len(refused) == 1, outcomes
    session = session_factory(settings.database_url)()
    try:
        lift = session.get(BlockLift, lift_id)
        customer = session.get(Customer, customer_id)
        assert lift is not None and customer is not None
        assert lift.status == passed[0].status and (customer.blocked_at is None) == (lift.status == "approved")
        overturns = session.execute(
            select(HitDecision.id).where(HitDecision.hit_id == hit_id, HitDecision.decision == "overturn")
        ).all()
        assert len(overturns) == (1 if lift.status == "approved" else 0)
    finally:
        session.close()


def test_the_approver_who_loses_the_race_gets_a_conflict_not_a_refusal(proposed: tuple[Settings, str]) -> None:
    """Both approvers answer with a plain verdict (the proposal's own approves it, another rejects it); the one
    whose decision comes second finds no proposal left and is told so — a conflict, not a missing permission."""
    settings, hit_id = proposed
    approvers = [user(settings, Role.APPROVER), user(settings, Role.APPROVER)]
    outcomes: list[Any] = []
    for principal, verdict in ((approvers[0], "true_match"), (approvers[1], "false_positive")):
        session = session_factory(settings.database_url)()
        try:
            outcomes.append(review.decide(session, hit_id, verdict, "second look", principal, high_score=0.9))
            session.commit()
        except Exception as exc:  # the test inspects what each decider got
            session.rollback()
            outcomes.append(exc)
        finally:
            session.close()
    assert isinstance(outcomes[0], review.DecisionResult)
    assert isinstance(outcomes[1], ReviewError), outcomes[1]
    assert "decided by someone else" in str(outcomes[1])
