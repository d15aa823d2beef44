"""Screening core on SQLite and PostgreSQL with the real lists: PEP classification, outcome, retention, idempotency."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from kyc import versions
from kyc.entry import Entry, Name, Position, Schema
from kyc.matcher_cache import matcher_cache
from kyc.outcome import job_outcome
from kyc.pep import PepKind, PepStatus, classify, earliest_end
from kyc.retention import end_relationship, purge_expired, set_legal_hold
from kyc.screening import NoActiveLists, requeue
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.storage.hits import Hit
from kyc.storage.jobs import Customer, Party, PurgeLog, ScreeningJob
from kyc.submission import CustomerSpec, IdempotencyConflict, JobSpec, PersonSpec, create_job
from lists.ingest import ingest_files
from tests.support.env import list_file
from workers.tasks import run_screening

UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"
UN_2025 = "un_sc/2025-11-20_mkweli/un_consolidated.xml"
SA_PEPS = "pep/opensanctions_ftm/wikidata_sa_peps_usercrawl/entities.ftm.json"


def spec(*persons: PersonSpec, name: str = "Esimerkki Oy", business_id: str = "1572860-0") -> JobSpec:
    return JobSpec(customer=CustomerSpec(name=name, country="FI", business_id=business_id), persons=persons)


def submit(settings: Settings, job: JobSpec, key: str = "k1", user: str = "onboarding-1") -> str:
    with transaction(settings.database_url) as session:
        created, _new = create_job(
            session, job, submitted_by=user, idempotency_key=key, retention_years=settings.retention_years
        )
        return created.id


@pytest.fixture
def lists(settings: Settings) -> Settings:
    matcher_cache.clear()
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    ingest_files("opensanctions", [list_file(SA_PEPS)], settings)
    return settings


def parties(settings: Settings, job_id: str) -> list[Party]:
    with transaction(settings.database_url) as session:
        return list(session.execute(select(Party).where(Party.job_id == job_id).order_by(Party.position)).scalars())


def test_peps_family_and_declared_are_classified_with_their_basis(lists: Settings) -> None:
    job_id = submit(
        lists,
        spec(
            PersonSpec("responsible_person", "Faisal F. Alibrahim", birth_date="1981-06-08", nationality="SA"),
            PersonSpec("beneficial_owner", "Hessa bint Trad Al Shaalan", ownership=0.3),
            PersonSpec("representative", "Liisa Korhonen", birth_date="1970-04-01", declared_pep=True),
            PersonSpec("representative", "Pekka Nieminen", birth_date="1985-09-09"),
        ),
    )
    result = run_screening(lists, job_id)
    assert result["status"] == "completed" and result["outcome"] == "review"
    _customer, minister, wife, declared, plain = parties(lists, job_id)

    assert minister.pep_status == "pep" and minister.edd_required
    basis = minister.pep_basis["basis"]  # type: ignore[index]
    assert any(
        b["source"] == "opensanctions"
        and b["source_ref"] == "Q106687219"
        and b["position"].startswith("Minister of Economy and Planning")
        and b["start"] == "2021-01-01"
        for b in basis
    )
    assert wife.pep_status == "family"
    assert any("Abdullah of Saudi Arabia" in (b.get("relation") or "") for b in wife.pep_basis["basis"])  # type: ignore[index]
    assert declared.pep_status == "pep" and declared.pep_basis["basis"][0]["source"] == "declaration"  # type: ignore[index]
    assert plain.pep_status is None and not plain.edd_required
    with transaction(lists.database_url) as session:
        job = session.get(ScreeningJob, job_id)
        assert job is not None and job.edd_required and job.outcome == "review"
        kinds = set(session.execute(select(Hit.kind).where(Hit.job_id == job_id)).scalars())
    assert kinds == {"pep"}  # PEP hits are not flagged as sanctions


def test_a_pep_stays_pep_on_rescreening_without_list_evidence(lists: Settings) -> None:
    """Status never lapses by itself: a later screening that finds nothing keeps the earlier basis."""
    person = PersonSpec("representative", "Faisal F. Alibrahim", birth_date="1981-06-08", nationality="SA")
    first = submit(lists, spec(person), key="a")
    run_screening(lists, first)
    # The PEP list is replaced by one without him (UN only): no fresh evidence.
    with transaction(lists.database_url) as session:
        from kyc.storage.lists import ListSource

        source = session.get(ListSource, "opensanctions")
        assert source is not None
        source.active_version_id = None
    second = submit(lists, spec(person), key="b")
    run_screening(lists, second)
    again = parties(lists, second)[1]
    assert again.pep_status == "pep"
    assert any(b.get("source_ref") == "Q106687219" for b in again.pep_basis["basis"])  # type: ignore[index]


def test_no_active_list_never_screens_clear(settings: Settings) -> None:
    matcher_cache.clear()
    job_id = submit(settings, spec(PersonSpec("representative", "Emraan Ali", birth_date="1967-07-04")))
    with pytest.raises(NoActiveLists, match="no active list version"):
        run_screening(settings, job_id)
    with transaction(settings.database_url) as session:
        job = session.get(ScreeningJob, job_id)
        assert job is not None and job.outcome is None and job.status != "completed"
        requeue(session, job_id)  # what the worker does before retrying
    ingest_files("un_sc", [list_file(UN_2026)], settings)
    assert run_screening(settings, job_id)["outcome"] == "review"


def test_the_operators_match_threshold_applies_to_the_service(lists: Settings) -> None:
    """KYC_MATCH_THRESHOLD reaches the worker's matcher, not only the CLI."""
    person = PersonSpec("representative", "Emran Aly")  # a spelling variant, no birth date to lift the score
    default = run_screening(lists, submit(lists, spec(person), key="default"))
    assert default["hits"] >= 1
    strict = lists.model_copy(update={"match_threshold": 0.999})
    assert run_screening(strict, submit(strict, spec(person), key="strict"))["hits"] == 0
    with transaction(lists.database_url) as session:
        jobs = {job.idempotency_key: job.config_hash for job in session.execute(select(ScreeningJob)).scalars()}
    assert jobs["default"] != jobs["strict"]  # the configuration used is recorded with each result


def test_clear_and_sanction_outcomes(lists: Settings) -> None:
    clear = submit(lists, spec(PersonSpec("representative", "Aino Mäkinen", birth_date="1990-01-31")), key="c")
    assert run_screening(lists, clear)["outcome"] == "clear"
    listed = submit(lists, spec(PersonSpec("representative", "Emraan Ali", birth_date="1967-07-04")), key="d")
    assert run_screening(lists, listed)["outcome"] == "review"  # never "match" without an officer
    with transaction(lists.database_url) as session:
        hit = session.execute(select(Hit).where(Hit.job_id == listed).order_by(Hit.score.desc())).scalars().first()
        job = session.get(ScreeningJob, listed)
    assert hit is not None and (hit.source_ref, hit.kind, hit.priority) == ("QDi.430", "sanction", "high")
    assert job is not None and job.list_versions is not None
    assert job.list_versions == {"un_sc": hit.version_id, "opensanctions": job.list_versions["opensanctions"]}
    assert job.engine_version == hit.engine_version and job.config_hash == hit.config_hash
    # Re-running a completed job is a no-op (a redelivered task).
    assert run_screening(lists, listed)["skipped"] is True


def test_idempotency_key_reuse_with_another_body_conflicts(settings: Settings) -> None:
    first = submit(settings, spec(PersonSpec("representative", "A B")), key="same")
    assert submit(settings, spec(PersonSpec("representative", "A B")), key="same") == first
    with pytest.raises(IdempotencyConflict):
        submit(settings, spec(PersonSpec("representative", "C D")), key="same")
    # Keys are scoped per submitter.
    assert submit(settings, spec(PersonSpec("representative", "C D")), key="same", user="other") != first


def test_expired_records_are_purged_held_and_active_ones_kept(settings: Settings) -> None:
    ended = submit(settings, spec(PersonSpec("representative", "Vanha Asiakas")), key="1")
    held = submit(settings, spec(name="Pidossa Oy", business_id="0737546-2"), key="2")
    active = submit(settings, spec(name="Aktiivinen Oy", business_id="0112038-9"), key="3")
    now = datetime.now(UTC)
    with transaction(settings.database_url) as session:
        for job_id in (ended, held, active):
            job = session.get(ScreeningJob, job_id)
            assert job is not None
            job.status = "completed"
        ids = {job_id: session.get(ScreeningJob, job_id).customer_id for job_id in (ended, held)}  # type: ignore[union-attr]
        end_relationship(session, ids[ended], now - timedelta(days=365 * 5 + 10), settings.retention_years)
        end_relationship(session, ids[held], now - timedelta(days=365 * 6), settings.retention_years)
        set_legal_hold(session, ids[held], True)
    with transaction(settings.database_url) as session:
        result = purge_expired(session)
    assert (result.jobs, result.customers) == (1, 1)
    with transaction(settings.database_url) as session:
        remaining = set(session.execute(select(ScreeningJob.id)).scalars())
        assert remaining == {held, active}
        assert session.scalar(select(func.count()).select_from(Party).where(Party.job_id == ended)) == 0
        assert session.get(Customer, ids[ended]) is None
        logged = session.execute(select(PurgeLog)).scalars().all()
    assert {(row.object_type, row.object_id) for row in logged} == {("screening_job", ended), ("customer", ids[ended])}
    assert "Vanha" not in json.dumps([row.details for row in logged])  # no personal data in the deletion log


@pytest.mark.parametrize(("kind", "kept"), [("pep", False), ("sanction", True)])
def test_a_confirmed_sanctions_match_holds_the_case_but_a_confirmed_pep_does_not(
    settings: Settings, kind: str, kept: bool
) -> None:
    """A frozen sanctions case outlives retention; a confirmed PEP (enhanced due diligence, not a freeze) does not."""
    from kyc.customers import end_refusal

    job_id = submit(settings, spec(PersonSpec("representative", "Vanha Asiakas")), key=kind)
    with transaction(settings.database_url) as session:
        job = session.get(ScreeningJob, job_id)
        assert job is not None
        job.status = "completed"
        party = job.parties[1]
        session.add(
            Hit(
                job_id=job.id,
                party_id=party.id,
                position=0,
                source="opensanctions",
                source_ref="Q1",
                schema="Person",
                score=0.95,
                matched_name="Vanha Asiakas",
                query_name="Vanha Asiakas",
                explanation={},
                kind=kind,
                status="confirmed",
                engine_version="test",
                config_hash="test",
            )
        )
        session.flush()
        customer = session.get(Customer, job.customer_id)
        assert customer is not None
        assert (end_refusal(session, customer) is not None) is kept
        end_relationship(session, customer.id, datetime.now(UTC) - timedelta(days=365 * 6), settings.retention_years)
    with transaction(settings.database_url) as session:
        result = purge_expired(session)
    assert result.jobs == (0 if kept else 1)


def test_retention_is_extended_by_new_screenings_of_an_active_customer(settings: Settings) -> None:
    first = submit(settings, spec(), key="x")
    with transaction(settings.database_url) as session:
        job = session.get(ScreeningJob, first)
        assert job is not None
        job.retention_until = job.customer.retention_until = datetime.now(UTC) + timedelta(days=1)
    second = submit(settings, spec(), key="y")
    with transaction(settings.database_url) as session:
        a, b = session.get(ScreeningJob, first), session.get(ScreeningJob, second)
        assert a is not None and b is not None and a.customer_id == b.customer_id
        assert a.retention_until == b.retention_until > datetime.now(UTC) + timedelta(days=365 * 5 - 2)


def _pep(end: str | None) -> Entry:
    return Entry(
        source="everypolitician",
        source_ref="ep-1",
        schema_=Schema.PERSON,
        names=(Name(value="Matti Vanhanen"),),
        topics=("role.pep",),
        positions=(Position(role="Member of Parliament", body="Eduskunta", country="FI", start="1991", end=end),),
    )


def test_former_pep_status_does_not_lapse_and_only_a_decision_ends_it() -> None:
    former = classify([(_pep("2015-04-19"), 0.97)])
    assert former.kind == PepKind.PEP and former.basis[0].end == "2015-04-19"
    assert former.basis[0].minimum_until == "2016-04-19" and earliest_end(former) == "2016-04-19"
    assert classify([(_pep(None), 0.97)]).basis[0].minimum_until is None
    carried = classify([], previous=former)
    assert carried.kind == PepKind.PEP and carried.basis == former.basis
    assert classify([], previous=former, ended_by_decision=True).kind is None
    assert PepStatus.from_data(former.to_data()) == former
    assert job_outcome([], PepStatus(None).is_pep) == "clear"
    assert job_outcome([], former.is_pep) == "review"


def test_purge_is_audited_without_personal_data(settings: Settings) -> None:
    from kyc.storage.access import AuditLog

    job_id = submit(settings, spec(PersonSpec("representative", "Poistettava Henkilö")), key="audit")
    with transaction(settings.database_url) as session:
        job = session.get(ScreeningJob, job_id)
        assert job is not None
        job.status = "completed"
        end_relationship(session, job.customer_id, datetime.now(UTC) - timedelta(days=3000), 5)
    with transaction(settings.database_url) as session:
        purge_expired(session)
    with transaction(settings.database_url) as session:
        rows = session.execute(select(AuditLog).where(AuditLog.action == "retention.delete")).scalars().all()
    assert {(r.object_type, r.actor) for r in rows} == {
        ("screening_job", "system:retention"),
        ("customer", "system:retention"),
    }
    assert "Poistettava" not in json.dumps([r.details for r in rows])


def test_a_job_screened_on_the_previous_index_makes_its_customer_due(lists: Settings) -> None:
    """While a new version's index is swapped in, a job may be screened on the old one; its customer must not wait
    for the scheduled rescreen to meet the new version's entries (the version's delta ran before the job)."""
    first = submit(lists, spec(PersonSpec("representative", "Aino Mäkinen")), key="before")
    run_screening(lists, first)
    with transaction(lists.database_url) as session:
        job = session.get(ScreeningJob, first)
        assert job is not None
        customer = session.get(Customer, job.customer_id)
        assert customer is not None and customer.next_rescreen_at is not None
        in_a_month = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=30)
        assert customer.next_rescreen_at.replace(tzinfo=None) > in_a_month
    ingest_files("un_sc", [list_file(UN_2025)], lists, allow_older=True)
    stale = submit(lists, spec(PersonSpec("representative", "Aino Mäkinen")), key="stale")
    run_screening(lists, stale)  # the process's matcher still covers the previous version
    with transaction(lists.database_url) as session:
        job = session.get(ScreeningJob, stale)
        assert job is not None and job.list_versions is not None
        assert job.list_versions["un_sc"] != versions.active_version_ids(session)["un_sc"]
        customer = session.get(Customer, job.customer_id)
        assert customer is not None and customer.next_rescreen_at is not None
        assert customer.next_rescreen_at.replace(tzinfo=None) <= datetime.now(UTC).replace(tzinfo=None)
