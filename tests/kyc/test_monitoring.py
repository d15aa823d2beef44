"""Ongoing monitoring through a REAL Celery worker on Redis, against the real UN lists of 2025-11-20 and 2026-02-27.

Between the two lists the UN added SDi.007..SDi.010, removed IQi.074 and changed HTi.006 and SOi.022.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from kyc import customers, monitoring, review
from kyc.access import Role
from kyc.screening import MatcherScreener
from kyc.settings import Settings
from kyc.storage.access import AuditLog
from kyc.storage.base import utcnow
from kyc.storage.db import transaction
from kyc.storage.hits import Hit, Suppression
from kyc.storage.jobs import Customer
from kyc.storage.monitoring import MonitoringRun
from lists.ingest import ingest_files
from tests.support import service as service_support
from tests.support.env import list_file
from tests.support.review import (
    ADDED,
    CHANGED,
    REMOVED,
    UN_2025,
    UN_2026,
    UNRELATED,
    customer_of,
    hit_on,
    hits_by_party,
    submit,
    user,
)
from tests.support.service import wait_for, wait_until
from tests.support.webhooks import receiver
from workers.monitoring import delta_task, rescreen_task, run_delta, tick
from workers.tasks import screen_job_task

pytestmark = pytest.mark.slow
celery_worker = service_support.celery_worker
service = service_support.service


def screen(settings: Settings, job_id: str) -> None:
    screen_job_task.delay(job_id)
    assert wait_for(settings.database_url, job_id) == "completed"


def runs(settings: Settings, kind: str, version_id: int | None = None) -> list[MonitoringRun]:
    with transaction(settings.database_url) as session:
        query = select(MonitoringRun).where(MonitoringRun.kind == kind, MonitoringRun.status == "completed")
        if version_id is not None:
            query = query.where(MonitoringRun.version_id == version_id)
        return list(session.execute(query).scalars())


def wait_for_run(settings: Settings, kind: str, version_id: int | None = None, count: int = 1) -> MonitoringRun:
    wait_until(lambda: len(runs(settings, kind, version_id)) >= count, timeout=60, what=f"{kind} run")
    return runs(settings, kind, version_id)[-1]


def outcome_of(settings: Settings, job_id: str) -> str | None:
    return customer_of(settings, job_id).outcome


def test_un_update_raises_hits_only_for_the_added_designations_and_delists_the_removed_one(service: Settings) -> None:
    ingest_files("un_sc", [list_file(UN_2025)], service)
    with receiver(client="onboarding-test") as hook:  # review_support.submit's client
        added_job = submit(
            service, "Khartoum Trading Oy", "2077474-0", (*ADDED.values(), UNRELATED[0]), callback_url=hook.url
        )
        removed_job = submit(service, "Baghdad Logistics Oy", "0112038-9", (REMOVED, UNRELATED[1]))
        changed_job = submit(service, "Port-au-Prince Oy", "1572860-0", (CHANGED,))
        for job_id in (added_job, removed_job, changed_job):
            screen(service, job_id)
        assert outcome_of(service, added_job) == "clear"  # none of them is on the 2025 list
        wait_until(lambda: len(hook.received) == 1, what="completion webhook")
        before = {job: hits_by_party(service, job) for job in (added_job, removed_job, changed_job)}
        assert "IQi.074" in before[removed_job][REMOVED.name]
        assert "HTi.006" in before[changed_job][CHANGED.name]

        result = ingest_files("un_sc", [list_file(UN_2026)], service)
        assert (result.added, result.removed, result.changed) == (4, 1, 2)
        delta_task.delay(result.version_id)
        run = wait_for_run(service, "delta", result.version_id)

        new = {job: hits_by_party(service, job) for job in (added_job, removed_job, changed_job)}
        raised = {
            (party, ref, hit.status)
            for job in new
            for party, hits in new[job].items()
            for ref, hit in hits.items()
            if hit.origin == "delta"
        }
        assert raised == {(person.name, ref, "open") for ref, person in ADDED.items()}
        assert (run.new_hits, run.delisted, run.reopened) == (4, 1, 0)
        delisted = new[removed_job][REMOVED.name]["IQi.074"]
        assert delisted.status == "delisted" and delisted.delisted_at is not None  # kept, not deleted
        assert f"list version {result.version_id}" in (delisted.reopen_reason or "")
        assert new[changed_job][CHANGED.name]["HTi.006"].status == "open"  # an open hit stays open, evidence refreshed
        assert new[changed_job][CHANGED.name]["HTi.006"].version_id == result.version_id
        assert outcome_of(service, added_job) == "review"
        assert outcome_of(service, removed_job) == "clear"  # its only hit was delisted
        wait_until(lambda: len(hook.received) == 2, what="monitoring webhook")
        assert hook.received[1]["body"]["outcome"] == "review" and "hits" not in hook.received[1]["body"]

    assert run_delta(service, result.version_id) == {"version_id": result.version_id, "skipped": True}
    with transaction(service.database_url) as session:
        assert session.execute(select(func.count()).where(Hit.origin == "delta")).scalar_one() == 4
        actions = session.execute(select(AuditLog.action).where(AuditLog.actor == monitoring.ACTOR)).scalars().all()
        assert "monitoring.delta_run" in actions and "monitoring.delta" in actions


def _dismiss(settings: Settings, hit_id: str) -> None:
    analyst, approver = user(settings, Role.ANALYST), user(settings, Role.APPROVER)
    with transaction(settings.database_url) as session:
        review.decide(
            session, hit_id, "false_positive", "Haitian namesake, no other identifiers", analyst, high_score=0.9
        )
    with transaction(settings.database_url) as session:
        review.decide(session, hit_id, "approve", "agreed", approver, high_score=0.9)


def test_dismissed_hit_stays_suppressed_on_rescreen_and_reopens_when_its_list_entry_changes(service: Settings) -> None:
    ingest_files("un_sc", [list_file(UN_2025)], service)
    first = submit(service, "Port-au-Prince Oy", "1572860-0", (CHANGED,))
    screen(service, first)
    _dismiss(service, hit_on(service, first, "HTi.006").id)
    assert outcome_of(service, first) == "clear"
    customer_id = customer_of(service, first).id

    rescreen_task.delay([customer_id])
    run = wait_for_run(service, "full")
    assert (run.parties, run.new_hits, run.reopened) == (2, 0, 0)
    assert hit_on(service, first, "HTi.006").status == "dismissed"

    second = submit(service, "Port-au-Prince Oy", "1572860-0", (CHANGED,))  # onboarding again, same data
    screen(service, second)
    carried = hit_on(service, second, "HTi.006")
    assert carried.status == "suppressed" and outcome_of(service, second) == "clear"

    result = ingest_files("un_sc", [list_file(UN_2026)], service)
    delta_task.delay(result.version_id)
    run = wait_for_run(service, "delta", result.version_id)
    reopened = hit_on(service, second, "HTi.006")
    assert reopened.status == "open" and run.reopened == 1 and reopened.reopened_at is not None
    assert "list entry un_sc HTi.006 changed" in (reopened.reopen_reason or "")
    assert reopened.entry_hash != carried.entry_hash and reopened.version_id == result.version_id
    assert outcome_of(service, second) == "review"
    with transaction(service.database_url) as session:
        lifted = session.execute(select(Suppression.lifted_reason).where(Suppression.source_ref == "HTi.006")).scalars()
        assert all("changed" in (reason or "") for reason in lifted)


def test_tick_schedules_by_risk_and_an_ended_relationship_is_no_longer_screened(service: Settings) -> None:
    old = ingest_files("un_sc", [list_file(UN_2025)], service)
    watched = submit(service, "Khartoum Trading Oy", "2077474-0", (ADDED["SDi.008"],))
    ended = submit(service, "Omdurman Oy", "0112038-9", (ADDED["SDi.009"],))
    screen(service, watched)
    screen(service, ended)
    with transaction(service.database_url) as session:
        ended_customer = customer_of(service, ended).id
        customers.end_relationship(session, ended_customer, utcnow(), service.retention_years)

    first = tick(service)
    assert first["deltas"] == [old.version_id] and first["customers"] == 0  # nobody is due yet
    wait_for_run(service, "delta", old.version_id)
    watched_id = customer_of(service, watched).id
    with transaction(service.database_url) as session:
        session.execute(
            update(Customer).where(Customer.id == watched_id).values(next_rescreen_at=utcnow() - timedelta(minutes=1))
        )
        customers.set_risk(session, watched_id, "high", service.rescreen_days)  # moves it 30 days ahead again
        assert monitoring.due_customers(session) == []
        session.execute(
            update(Customer).where(Customer.id == watched_id).values(next_rescreen_at=utcnow() - timedelta(minutes=1))
        )
    second = tick(service)
    assert (second["deltas"], second["customers"], second["chunks"]) == ([], 1, 1)
    wait_for_run(service, "full")
    rescheduled = customer_of(service, watched)
    assert rescheduled.next_rescreen_at is not None and rescheduled.last_rescreened_at is not None
    assert timedelta(days=29) < rescheduled.next_rescreen_at - rescheduled.last_rescreened_at <= timedelta(days=30)
    assert tick(service)["customers"] == 0  # not handed out twice

    new = ingest_files("un_sc", [list_file(UN_2026)], service)
    assert tick(service)["deltas"] == [new.version_id]
    wait_for_run(service, "delta", new.version_id)
    assert "SDi.008" in hits_by_party(service, watched)[ADDED["SDi.008"].name]
    assert hits_by_party(service, ended) == {}  # the ended relationship is not screened any more
    assert customer_of(service, ended).next_rescreen_at is None


def test_a_changed_matcher_configuration_rescreens_everybody_once(service: Settings) -> None:
    ingest_files("un_sc", [list_file(UN_2025)], service)
    job_id = submit(service, "Port-au-Prince Oy", "1572860-0", (CHANGED,))
    screen(service, job_id)
    with transaction(service.database_url) as session:
        current = hit_on(service, job_id, "HTi.006").config_hash
        assert not monitoring.config_changed(session, current)
        assert monitoring.config_changed(session, "0" * 64)
        monitoring.record_config(session, "0" * 64, 1)
    with transaction(service.database_url) as session:
        assert not monitoring.config_changed(session, "0" * 64)
        assert monitoring.config_changed(session, current)
    result = tick(service)  # the running matcher's configuration differs from the recorded one
    assert result["config_changed"] and result["customers"] == 1
    run = wait_for_run(service, "config")
    assert run.parties == 2
    assert tick(service)["config_changed"] is False


def test_a_version_superseded_before_its_delta_is_covered_by_the_next_one(settings: Settings) -> None:
    """v1 (delta-screened) -> v2 (never screened: superseded at once) -> v3: v3's delta covers what v2 added."""
    from kyc.matcher_cache import matcher_cache
    from kyc.submission import PersonSpec
    from kyc.versions import ParsedList, RawFile, store_version
    from lists.fetch import read_local
    from lists.registry import get_adapter
    from workers.tasks import run_screening

    matcher_cache.clear()
    adapter = get_adapter("un_sc")
    old_raw = read_local(list_file(UN_2025))
    old = adapter.parse([old_raw])
    newest = {e.source_ref for e in adapter.parse([read_local(list_file(UN_2026))]).entries}
    held = next(e for e in old.entries if e.schema_.value == "Person" and e.source_ref in newest and e.nationalities)
    with transaction(settings.database_url) as session:
        first = store_version(
            session,
            source="un_sc",
            files=[RawFile("base.xml", old_raw.data + b"<!-- without one designation -->")],
            parsed=ParsedList([e for e in old.entries if e.source_ref != held.source_ref], old.file_format),
            parser_version=adapter.parser_version,
            origin="test: UN 2025-11-20 minus one designation",
        )
        assert monitoring.delta_screen(session, first.version_id, high_priority_score=0.9) is not None
    person = PersonSpec(role="representative", name=held.primary_name, nationality=held.nationalities[0])
    job_id = submit(settings, "Esimerkki Oy", "1572860-0", (person,))
    run_screening(settings, job_id)
    assert held.source_ref not in hits_by_party(settings, job_id).get(held.primary_name, {})

    second = ingest_files("un_sc", [list_file(UN_2025)], settings)  # adds the designation back...
    third = ingest_files("un_sc", [list_file(UN_2026)], settings)  # ...and is superseded before monitoring ran
    assert second.added == 1 and third.added == 4
    with transaction(settings.database_url) as session:
        assert monitoring.delta_screen(session, second.version_id, high_priority_score=0.9) is None
        stats = monitoring.delta_screen(session, third.version_id, high_priority_score=0.9)
        assert stats is not None and stats.new_hits >= 1
    hit = hits_by_party(settings, job_id)[held.primary_name][held.source_ref]
    assert (hit.origin, hit.status, hit.version_id) == ("delta", "open", third.version_id)


def test_delta_fans_out_in_customer_chunks_and_completes_when_every_chunk_is_counted(service: Settings) -> None:
    from workers.app import use_settings

    chunked = service_support.service_settings(service.database_url, monitoring_chunk_size=1)
    use_settings(chunked)  # one customer per chunk: on PostgreSQL every chunk is its own task on the worker pool
    ingest_files("un_sc", [list_file(UN_2025)], service)
    jobs = [
        submit(service, f"Khartoum Trading {index} Oy", f"207747{index}-0", (ADDED[ref],))
        for index, ref in enumerate(("SDi.007", "SDi.008", "SDi.010"))
    ]
    for job_id in jobs:
        screen(service, job_id)
    result = ingest_files("un_sc", [list_file(UN_2026)], service)
    delta_task.delay(result.version_id)
    run = wait_for_run(service, "delta", result.version_id)
    assert (run.parties, run.new_hits, run.delisted) == (6, 3, 0)  # 3 customers x (organisation + person)
    assert (run.details or {})["chunks"] == 3 and sorted((run.details or {})["done"]) == [0, 1, 2]
    for job_id, ref in zip(jobs, ("SDi.007", "SDi.008", "SDi.010"), strict=True):
        assert hit_on(service, job_id, ref).origin == "delta"


def test_changed_evidence_lapses_a_proposal_and_never_overwrites_a_confirmed_hit(settings: Settings) -> None:
    """HTi.006 changes between the two UN lists: a pending proposal on it lapses, a confirmed verdict stays put."""
    from kyc.matcher_cache import matcher_cache
    from kyc.review import ReviewError
    from kyc.storage.hits import HitDecision
    from workers.tasks import run_screening

    matcher_cache.clear()
    ingest_files("un_sc", [list_file(UN_2025)], settings)
    proposed_job = submit(settings, "Port-au-Prince Oy", "1572860-0", (CHANGED,))
    confirmed_job = submit(settings, "Cap-Haitien Oy", "0112038-9", (CHANGED,))
    for job_id in (proposed_job, confirmed_job):
        assert run_screening(settings, job_id)["status"] == "completed"
    analyst, approver = user(settings, Role.ANALYST), user(settings, Role.APPROVER)
    proposed_id = hit_on(settings, proposed_job, "HTi.006").id
    confirmed = hit_on(settings, confirmed_job, "HTi.006")
    with transaction(settings.database_url) as session:
        review.decide(session, proposed_id, "false_positive", "namesake", analyst, high_score=0.9)
        review.decide(session, confirmed.id, "true_match", "same person", analyst, high_score=0.9)
    with transaction(settings.database_url) as session:
        review.decide(session, confirmed.id, "approve", "verified", approver, high_score=0.9)

    new = ingest_files("un_sc", [list_file(UN_2026)], settings)
    with transaction(settings.database_url) as session:
        stats = monitoring.delta_screen(session, new.version_id, high_priority_score=0.9)
        assert stats is not None and (stats.reopened, stats.new_hits) == (1, 1)

    lapsed = hit_on(settings, proposed_job, "HTi.006")
    assert lapsed.status == "open" and lapsed.version_id == new.version_id
    assert (lapsed.reopen_reason or "").startswith("the proposal lapsed: the list entry un_sc HTi.006 changed")
    with transaction(settings.database_url) as session:
        history = review.history(session, proposed_id)
        assert [(d.decision, d.status_after) for d in history] == [("false_positive", "proposed")]  # kept as it was
        lapse_audit = session.execute(
            select(AuditLog.actor).where(AuditLog.action == "hit.proposal_lapsed", AuditLog.object_id == proposed_id)
        ).scalars()
        assert list(lapse_audit) == [monitoring.ACTOR]
    # Nobody can approve a proposal made on other evidence.
    with pytest.raises(ReviewError, match="no proposal"), transaction(settings.database_url) as session:
        review.decide(session, proposed_id, "approve", "late", approver, high_score=0.9)
    assert outcome_of(settings, proposed_job) == "review"

    with transaction(settings.database_url) as session:
        hits = session.execute(
            select(Hit).where(Hit.job_id == confirmed_job, Hit.source_ref == "HTi.006").order_by(Hit.created_at)
        ).scalars()
        kept, raised = list(hits)
        decisions = session.execute(select(func.count()).where(HitDecision.hit_id == confirmed.id)).scalar_one()
    assert (kept.id, kept.status, kept.version_id, kept.entry_hash, kept.score, kept.explanation) == (
        confirmed.id,
        "confirmed",
        confirmed.version_id,
        confirmed.entry_hash,
        confirmed.score,
        confirmed.explanation,
    )
    assert decisions == 2
    assert (raised.status, raised.origin, raised.version_id) == ("open", "delta", new.version_id)
    assert raised.entry_hash != confirmed.entry_hash and confirmed.id in (raised.reopen_reason or "")
    assert outcome_of(settings, confirmed_job) == "match"  # still blocked

    customer_id = customer_of(settings, confirmed_job).id
    with transaction(settings.database_url) as session:  # the same evidence again raises nothing more
        again = monitoring.rescreen_customers(
            session,
            [customer_id],
            MatcherScreener(matcher_cache.get(settings.database_url)),
            rescreen_days=settings.rescreen_days,
            high_priority_score=settings.high_priority_score,
        )
    assert (again.new_hits, again.reopened) == (0, 0)
