"""Lifting a block must not carry away a sanctions match confirmed after the lift was asked for.

A block-lift request names a ground and a reason about the matches confirmed when it was made. A second sanctions
match of the same customer confirmed later keeps ``blocked_at`` as it was (the customer is already blocked), so the
approval has to notice it by itself: otherwise ``confirmed_in_error`` would overturn a match that neither officer of
the lift looked at, and the block would end. Shown sequentially and as a race on SQLite, where ``SELECT … FOR
UPDATE`` is ignored and the approval's checks used to run before it took the write lock. And the retention purge
keeps a blocked customer even when no confirmed sanctions hit holds it any more (delisted, not yet lifted).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select

from kyc import monitoring, retention, review
from kyc.access import Principal, Role
from kyc.matcher_cache import matcher_cache
from kyc.retention import PurgeResult, purge_expired
from kyc.settings import Settings
from kyc.storage.db import get_engine, session_factory, transaction
from kyc.storage.hits import AuthorityNotification, BlockLift, Hit, HitDecision
from kyc.storage.jobs import Customer
from lists.ingest import ingest_files
from tests.support.env import list_file
from tests.support.review import CHANGED, REMOVED, UN_2025, UN_2026, customer_of, hit_on, submit, user
from workers.tasks import run_screening

HIGH = 0.9


@dataclass
class Case:
    settings: Settings
    customer_id: str
    first_hit: str
    second_hit: str
    lift_id: int
    analyst: Principal
    approvers: tuple[Principal, Principal, Principal]


def _decide(settings: Settings, hit_id: str, verdict: str, principal: Principal) -> review.DecisionResult:
    with transaction(settings.database_url) as session:
        return review.decide(session, hit_id, verdict, "checked", principal, high_score=HIGH)


def _mark_sent(settings: Settings, notification_id: int, principal: Principal, reference: str) -> None:
    with transaction(settings.database_url) as session:
        review.mark_notification_sent(session, notification_id, principal, reference=reference)


@pytest.fixture
def case(settings: Settings) -> Iterator[Case]:
    """Two UN hits of one customer: IQi.074 confirmed (blocked, reported), HTi.006 proposed as a true match by the
    analyst, and a ``confirmed_in_error`` lift asked about the first one."""
    matcher_cache.clear()
    ingest_files("un_sc", [list_file(UN_2025)], settings)
    job_id = submit(settings, "Kaksi Osumaa Oy", "1572860-0", (REMOVED, CHANGED))
    assert run_screening(settings, job_id)["status"] == "completed"
    first, second = hit_on(settings, job_id, "IQi.074").id, hit_on(settings, job_id, "HTi.006").id
    analyst = user(settings, Role.ANALYST)
    approvers = (user(settings, Role.APPROVER), user(settings, Role.APPROVER), user(settings, Role.APPROVER))
    _decide(settings, first, "true_match", analyst)
    blocked = _decide(settings, first, "approve", approvers[0])
    assert blocked.customer_blocked and blocked.notification_id is not None
    _mark_sent(settings, blocked.notification_id, approvers[0], "UO-1")
    _decide(settings, second, "true_match", analyst)
    customer_id = customer_of(settings, job_id).id
    with transaction(settings.database_url) as session:
        lift = review.request_block_lift(
            session, customer_id, "confirmed_in_error", "IQi.074: birth year differs", approvers[0]
        )
        lift_id = lift.id
    yield Case(settings, customer_id, first, second, lift_id, analyst, approvers)
    matcher_cache.clear()


def _state(case: Case) -> tuple[bool, str, str, list[str]]:
    """(customer blocked, second hit's status, lift status, statuses of the customer's notifications)."""
    with transaction(case.settings.database_url) as session:
        customer = session.get(Customer, case.customer_id)
        second = session.get(Hit, case.second_hit)
        lift = session.get(BlockLift, case.lift_id)
        assert customer is not None and second is not None and lift is not None
        notes = session.execute(
            select(AuthorityNotification.status)
            .where(AuthorityNotification.customer_id == case.customer_id)
            .order_by(AuthorityNotification.id)
        ).scalars()
        return customer.blocked_at is not None, second.status, lift.status, list(notes)


def test_a_match_confirmed_after_the_request_is_not_overturned_by_it(case: Case) -> None:
    """Sequential: the second match is confirmed and even reported after the request; approving the old request
    would overturn it unseen, so the approval is refused and the customer stays blocked."""
    settings = case.settings
    confirmed = _decide(settings, case.second_hit, "approve", case.approvers[1])
    assert confirmed.notification_id is not None
    _mark_sent(settings, confirmed.notification_id, case.approvers[1], "UO-2")
    with pytest.raises(review.ReviewError, match="after the request"), transaction(settings.database_url) as session:
        review.decide_block_lift(session, case.lift_id, "approve", "agreed", case.approvers[2])
    assert _state(case) == (True, "confirmed", "requested", ["sent", "sent"])
    with transaction(settings.database_url) as session:
        overturns = session.execute(select(HitDecision.id).where(HitDecision.decision == review.OVERTURN)).all()
    assert overturns == []
    with transaction(settings.database_url) as session:  # a rejection of the stale request still goes through
        assert review.decide_block_lift(session, case.lift_id, "reject", "ask again", case.approvers[2]).status == (
            review.blocks.LIFT_REJECTED
        )


def test_a_match_confirmed_while_the_lift_is_being_approved_keeps_the_block(case: Case) -> None:
    """The race: another approver confirms the second match (and commits) just before the lift approval writes.
    Either the approval sees it and is refused, or it is committed first and the confirmation blocks anew; never
    an unblocked customer with a confirmed sanctions match and a pending report."""
    settings = case.settings
    engine = get_engine(settings.database_url)
    main = threading.get_ident()
    other: dict[str, Any] = {}
    armed = threading.Event()
    armed.set()

    def confirm_second() -> None:
        try:
            other["result"] = _decide(settings, case.second_hit, "approve", case.approvers[1])
        except Exception as exc:  # inspected below
            other["result"] = exc

    def just_before_the_write(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if (
            armed.is_set()
            and threading.get_ident() == main
            and statement.lstrip().upper().startswith("UPDATE BLOCK_LIFTS")
        ):
            armed.clear()  # once (removing a listener while it is being dispatched is not allowed)
            thread = threading.Thread(target=confirm_second)
            thread.start()
            thread.join(timeout=60)  # a hang would be a lock held across the hook: fail instead of waiting forever
            other["finished_first"] = not thread.is_alive()

    event.listen(engine, "before_cursor_execute", just_before_the_write)
    try:
        with transaction(settings.database_url) as session:
            got: Any = review.decide_block_lift(session, case.lift_id, "approve", "agreed", case.approvers[2])
    except review.ReviewError as exc:
        got = exc
    finally:
        event.remove(engine, "before_cursor_execute", just_before_the_write)
    assert other.get("finished_first") is True, other
    assert isinstance(other["result"], review.DecisionResult), other
    blocked, second_status, lift_status, notes = _state(case)
    assert (blocked, second_status, notes) == (True, "confirmed", ["sent", "pending"]), got
    assert isinstance(got, review.ReviewError) and lift_status == "requested", got


def test_a_blocked_customer_is_not_purged_after_its_hit_is_delisted(case: Case) -> None:
    """Delisting moves the confirmed hit out of ``confirmed`` and the report was sent, but only two officers lift a
    block: until then the purge keeps the customer, however its retention date was set."""
    settings = case.settings
    with transaction(settings.database_url) as session:  # no lift pending; the second hit is merely proposed
        review.decide_block_lift(session, case.lift_id, "reject", "wait for the UN", case.approvers[1])
    newer = ingest_files("un_sc", [list_file(UN_2026)], settings)
    assert newer is not None
    with transaction(settings.database_url) as session:
        monitoring.delta_screen(session, newer.version_id, high_priority_score=0.9)
    with transaction(settings.database_url) as session:
        first = session.get(Hit, case.first_hit)
        assert first is not None and first.status == "delisted"
    with transaction(settings.database_url) as session:
        retention.end_relationship(session, case.customer_id, datetime(2000, 1, 1, tzinfo=UTC), 5)
    with transaction(settings.database_url) as session:
        assert purge_expired(session) == PurgeResult(0, 0)
        customer = session.get(Customer, case.customer_id)
        assert customer is not None and customer.blocked_at is not None


def test_two_officers_asking_at_once_leave_one_open_request(case: Case) -> None:
    """One open request per customer, on SQLite too: both askers read the customer with no open request before
    either writes (a barrier; on PostgreSQL the customer's row lock already serialises them)."""
    settings = case.settings
    with transaction(settings.database_url) as session:  # the fixture's request is answered first
        review.decide_block_lift(session, case.lift_id, "reject", "ask again", case.approvers[1])
    sqlite = settings.database_url.startswith("sqlite")
    both_read = threading.Barrier(2, timeout=60)
    outcomes: list[Any] = []

    def ask(principal: Principal) -> None:
        session = session_factory(settings.database_url)()
        if sqlite:

            @event.listens_for(session, "loaded_as_persistent")
            def wait_for_the_other(_session: Any, instance: object) -> None:
                if isinstance(instance, Customer) and not both_read.broken:
                    both_read.wait()

        try:
            outcomes.append(review.request_block_lift(session, case.customer_id, "confirmed_in_error", "x", principal))
            session.commit()
        except Exception as exc:  # inspected below
            session.rollback()
            outcomes.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=ask, args=(principal,)) for principal in case.approvers[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(type(got).__name__ for got in outcomes) == ["BlockLift", "ReviewError"], outcomes
    with transaction(settings.database_url) as session:
        open_requests = session.execute(
            select(BlockLift.id).where(
                BlockLift.customer_id == case.customer_id, BlockLift.status == review.blocks.LIFT_REQUESTED
            )
        ).all()
    assert len(open_requests) == 1
