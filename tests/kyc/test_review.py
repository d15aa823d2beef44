"""Decisions on real hits (UN list 2025-11-20): four eyes, outcome recompute, blocking, the authority notification."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from structlog.testing import capture_logs

from kyc import customers, retention, review
from kyc.access import Principal, Role
from kyc.matcher_cache import matcher_cache
from kyc.retention import PurgeResult, purge_expired
from kyc.review import DecisionRefused, ReviewError
from kyc.settings import Settings
from kyc.storage.access import AuditLog, User
from kyc.storage.base import utcnow
from kyc.storage.db import transaction
from kyc.storage.hits import AuthorityNotification, Hit, HitDecision, Suppression
from kyc.storage.jobs import Customer, ScreeningJob
from lists.ingest import ingest_files
from tests.support.env import list_file
from tests.support.review import CHANGED, REMOVED, UN_2025, UNRELATED, customer_of, hit_on, submit, user
from workers.tasks import run_screening


@pytest.fixture
def screened(settings: Settings) -> tuple[Settings, str]:
    """A customer whose representatives are two UN-listed persons (HTi.006, IQi.074) and one unrelated person."""
    matcher_cache.clear()
    ingest_files("un_sc", [list_file(UN_2025)], settings)
    job_id = submit(settings, "Esimerkki Kauppa Oy", "1572860-0", (CHANGED, REMOVED, UNRELATED[1]))
    assert run_screening(settings, job_id)["status"] == "completed"
    return settings, job_id


def decide(
    settings: Settings, hit_id: str, verdict: str, who: Principal, reason: str = "checked"
) -> review.DecisionResult:
    with transaction(settings.database_url) as session:
        return review.decide(session, hit_id, verdict, reason, who, high_score=settings.four_eyes_score)


def outcome(settings: Settings, job_id: str) -> tuple[str | None, str | None, bool]:
    with transaction(settings.database_url) as session:
        job = session.get(ScreeningJob, job_id)
        assert job is not None
        customer = session.get(Customer, job.customer_id)
        assert customer is not None
        return job.outcome, customer.outcome, customer.blocked_at is not None


def test_screening_stamps_suppression_keys_and_sets_the_customer_outcome(screened: tuple[Settings, str]) -> None:
    settings, job_id = screened
    hit = hit_on(settings, job_id, "HTi.006")
    assert hit.status == "open" and hit.kind == "sanction"
    assert hit.party_fingerprint and len(hit.party_fingerprint) == 64
    assert hit.entry_hash and len(hit.entry_hash) == 64
    assert outcome(settings, job_id) == ("review", "review", False)
    customer = customer_of(settings, job_id)
    assert customer.next_rescreen_at is not None and customer.last_rescreened_at is not None


def test_true_match_takes_two_officers_then_blocks_and_records_the_notification(
    screened: tuple[Settings, str],
) -> None:
    settings, job_id = screened
    analyst, other_analyst = user(settings, Role.ANALYST), user(settings, Role.ANALYST)
    approver = user(settings, Role.APPROVER)
    hit = hit_on(settings, job_id, "IQi.074")

    proposed = decide(settings, hit.id, "true_match", analyst, "same name, birth year and nationality")
    assert (proposed.status, proposed.four_eyes, proposed.customer_blocked) == ("proposed", True, False)
    assert outcome(settings, job_id) == ("review", "review", False)  # nothing adverse on one person's word
    with pytest.raises(DecisionRefused, match="approve_decision"):
        decide(settings, hit.id, "approve", other_analyst)
    # An approver answering with the proposal's own verdict gives the second decision (recorded as "approve").
    approved = decide(settings, hit.id, "true_match", approver, "verified against the UN narrative summary")
    assert (approved.status, approved.job_outcome, approved.customer_outcome) == ("confirmed", "match", "match")
    assert approved.customer_blocked and approved.notification_id is not None
    with transaction(settings.database_url) as session:
        note = session.get(AuthorityNotification, approved.notification_id)
        assert note is not None
        assert (note.status, note.source_ref, note.created_by) == ("pending", "IQi.074", approver.user_id)
        assert "Ulosottolaitos" in note.authority
        history = review.history(session, hit.id)
        assert [(d.decision, d.user_id, d.status_after) for d in history] == [
            ("true_match", analyst.user_id, "proposed"),
            ("approve", approver.user_id, "confirmed"),
        ]
        actions = set(
            session.execute(select(AuditLog.action).where(AuditLog.object_id.in_([hit.id, note.customer_id]))).scalars()
        )
        assert {"hit.decision", "customer.block"} <= actions
    with pytest.raises(ReviewError):
        decide(settings, hit.id, "approve", user(settings, Role.APPROVER))


def test_the_proposer_cannot_approve_even_after_becoming_an_approver(screened: tuple[Settings, str]) -> None:
    settings, job_id = screened
    analyst = user(settings, Role.ANALYST)
    hit = hit_on(settings, job_id, "HTi.006")
    decide(settings, hit.id, "false_positive", analyst, "different person: born in another decade")
    with transaction(settings.database_url) as session:  # promoted: same user id, approver role
        session.execute(update(User).where(User.id == analyst.user_id).values(role=Role.APPROVER.value))
    promoted = Principal(analyst.user_id, analyst.name, Role.APPROVER)
    with pytest.raises(DecisionRefused, match="four eyes"):
        decide(settings, hit.id, "approve", promoted)
    assert hit_on(settings, job_id, "HTi.006").status == "proposed"
    result = decide(settings, hit.id, "approve", user(settings, Role.APPROVER))
    assert result.status == "dismissed"


def test_dismissals_escalation_rejection_and_the_clear_outcome(screened: tuple[Settings, str]) -> None:
    settings, job_id = screened
    analyst, approver = user(settings, Role.ANALYST), user(settings, Role.APPROVER)
    first, second = hit_on(settings, job_id, "HTi.006"), hit_on(settings, job_id, "IQi.074")
    with pytest.raises(ValueError, match="reason"):
        decide(settings, first.id, "false_positive", analyst, "   ")

    assert decide(settings, first.id, "escalate", analyst, "needs the senior officer").status == "escalated"
    assert decide(settings, first.id, "false_positive", analyst).status == "proposed"  # sanctions list: four eyes
    assert decide(settings, first.id, "reject", approver, "look at the aliases again").status == "open"
    assert decide(settings, first.id, "false_positive", analyst).status == "proposed"
    assert decide(settings, first.id, "approve", approver).status == "dismissed"
    assert outcome(settings, job_id)[0] == "review"  # the other hit is still open

    decide(settings, second.id, "false_positive", analyst)
    final = decide(settings, second.id, "approve", approver)
    assert (final.job_outcome, final.customer_outcome, final.customer_blocked) == ("clear", "clear", False)
    with transaction(settings.database_url) as session:
        keys = session.execute(select(Suppression.source_ref, Suppression.lifted_at)).all()
        assert sorted(keys) == [("HTi.006", None), ("IQi.074", None)]
        assert (
            session.execute(select(HitDecision).where(HitDecision.hit_id == first.id)).scalars().all()[-1].status_after
            == "dismissed"
        )


def _dismiss(settings: Settings, hit_id: str, analyst: Principal, approver: Principal) -> None:
    decide(settings, hit_id, "false_positive", analyst)
    decide(settings, hit_id, "approve", approver)


def test_retention_purge_after_a_legitimate_end_takes_decisions_and_suppressions_along(
    screened: tuple[Settings, str],
) -> None:
    settings, job_id = screened
    analyst, approver = user(settings, Role.ANALYST), user(settings, Role.APPROVER)
    for ref in ("IQi.074", "HTi.006"):
        _dismiss(settings, hit_on(settings, job_id, ref).id, analyst, approver)
    customer_id = customer_of(settings, job_id).id
    with transaction(settings.database_url) as session:
        until = customers.end_relationship(session, customer_id, utcnow(), settings.retention_years)
    with transaction(settings.database_url) as session:
        assert purge_expired(session, now=until - timedelta(days=1)) == PurgeResult(0, 0)
    with transaction(settings.database_url) as session:
        assert purge_expired(session, now=until + timedelta(days=1)) == PurgeResult(1, 1)
    with transaction(settings.database_url) as session:
        for table in (HitDecision, Suppression, Hit):
            assert session.execute(select(table)).first() is None, table.__tablename__
        assert session.get(Customer, customer_id) is None


def test_a_confirmed_case_cannot_be_ended_or_backdated_and_the_purge_keeps_it(screened: tuple[Settings, str]) -> None:
    """The reviewer's reproduction (H1): confirmed true_match, end dated 2000-01-01, purge. Nothing is deleted."""
    settings, job_id = screened
    analyst, approver = user(settings, Role.ANALYST), user(settings, Role.APPROVER)
    confirmed = hit_on(settings, job_id, "IQi.074").id
    decide(settings, confirmed, "true_match", analyst)
    note_id = decide(settings, confirmed, "approve", approver).notification_id
    customer_id = customer_of(settings, job_id).id
    backdated = datetime(2000, 1, 1, tzinfo=UTC)
    with pytest.raises(customers.EndRefused, match="blocked"), transaction(settings.database_url) as session:
        customers.end_relationship(session, customer_id, utcnow(), settings.retention_years)
    with pytest.raises(customers.EndDateInvalid, match="last activity"), transaction(settings.database_url) as session:
        customers.end_relationship(session, customer_id, backdated, settings.retention_years)
    with transaction(settings.database_url) as session:  # even if the date got into the row some other way
        retention.end_relationship(session, customer_id, backdated, settings.retention_years)
    with capture_logs() as logged, transaction(settings.database_url) as session:
        assert purge_expired(session) == PurgeResult(0, 0)
    assert {(e["object_id"], e["reason"]) for e in logged if e["event"] == "retention.held"} == {
        (customer_id, "blocked"),
        (customer_id, "confirmed_hit"),
        (customer_id, "notification_pending"),
    }
    assert REMOVED.name not in json.dumps(logged) and "Esimerkki" not in json.dumps(logged)

    with transaction(settings.database_url) as session:  # delisted: the unsent notification alone still holds it
        session.execute(update(Hit).where(Hit.id == confirmed).values(status="delisted"))
        assert purge_expired(session) == PurgeResult(0, 0)
    with transaction(settings.database_url) as session:
        session.execute(update(AuthorityNotification).where(AuthorityNotification.id == note_id).values(status="sent"))
    with transaction(settings.database_url) as session:  # reported, but still blocked: only a lift ends the hold
        assert purge_expired(session) == PurgeResult(0, 0)
    with transaction(settings.database_url) as session:  # what an approved block lift does to the customer row
        session.execute(update(Customer).where(Customer.id == customer_id).values(blocked_at=None))
    with transaction(settings.database_url) as session:
        assert purge_expired(session) == PurgeResult(1, 1)
        assert session.get(Customer, customer_id) is None


def test_undecided_hits_keep_the_relationship_from_ending(screened: tuple[Settings, str]) -> None:
    settings, job_id = screened
    analyst, approver = user(settings, Role.ANALYST), user(settings, Role.APPROVER)
    customer_id = customer_of(settings, job_id).id
    decide(settings, hit_on(settings, job_id, "IQi.074").id, "true_match", analyst)
    decide(settings, hit_on(settings, job_id, "HTi.006").id, "escalate", analyst)
    with (
        pytest.raises(customers.EndRefused, match=r"1 escalated, 1 proposed"),
        transaction(settings.database_url) as session,
    ):
        customers.end_relationship(session, customer_id, utcnow(), settings.retention_years)
    decide(settings, hit_on(settings, job_id, "IQi.074").id, "reject", approver)  # back to open
    _dismiss(settings, hit_on(settings, job_id, "HTi.006").id, analyst, approver)
    with transaction(settings.database_url) as session:  # an open hit alone does not hold the end
        until = customers.end_relationship(session, customer_id, utcnow(), settings.retention_years)
        assert until > utcnow() + timedelta(days=365 * settings.retention_years - 2)
    with pytest.raises(customers.EndRefused, match="already ended"), transaction(settings.database_url) as session:
        customers.end_relationship(session, customer_id, utcnow(), settings.retention_years)
