"""Shared pieces of the review and monitoring tests: screening real customers against the real UN lists."""

from __future__ import annotations

import time

from sqlalchemy import select

from kyc.access import Principal, Role, create_user
from kyc.settings import Settings
from kyc.storage.db import transaction
from kyc.storage.hits import Hit
from kyc.storage.jobs import Customer, Party, ScreeningJob
from kyc.submission import CustomerSpec, JobSpec, PersonSpec, create_job

UN_2025 = "un_sc/2025-11-20_mkweli/un_consolidated.xml"
UN_2026 = "un_sc/2026-02-27_watchman/UN_consolidated.xml"

ADDED = {  # the four designations the 2026-02-27 UN list adds to the 2025-11-20 one, by their listed names
    "SDi.007": PersonSpec(role="beneficial_owner", name="Gedo Hamdan Ahmed", nationality="SD"),
    "SDi.008": PersonSpec(role="beneficial_owner", name="Abdul Rahim Hamdan Dagalo", birth_date="1972-01-01"),
    "SDi.009": PersonSpec(role="beneficial_owner", name="Al-Fateh Abdullah Idris", nationality="SD"),
    "SDi.010": PersonSpec(role="beneficial_owner", name="Tijani Ibrahim Moussa Mohamed", nationality="SD"),
}
REMOVED = PersonSpec(role="representative", name="Munir Al Qubaysi", birth_date="1966", nationality="IQ")
"""IQi.074, removed by the 2026-02-27 list."""
CHANGED = PersonSpec(role="representative", name="Prophane Victor", nationality="HT")
"""HTi.006, whose entry content changes between the two lists."""
UNRELATED = (
    PersonSpec(role="representative", name="Patricia Lucas Wheeler", birth_date="2002-07-14"),
    PersonSpec(role="responsible_person", name="Matti Meikäläinen", birth_date="1980-05-17", nationality="FI"),
)


def user(settings: Settings, role: Role, name: str | None = None) -> Principal:
    with transaction(settings.database_url) as session:
        principal, _token = create_user(session, name or f"{role.value}-{time.monotonic_ns()}", role)
    return principal


def submit(
    settings: Settings,
    name: str,
    business_id: str,
    persons: tuple[PersonSpec, ...],
    *,
    key: str | None = None,
    callback_url: str | None = None,
) -> str:
    """A queued job for a (new or known) customer; run it with ``run_screening`` or the Celery task."""
    spec = JobSpec(
        customer=CustomerSpec(name=name, country="FI", business_id=business_id),
        persons=persons,
        callback_url=callback_url,
    )
    with transaction(settings.database_url) as session:
        job, _created = create_job(
            session,
            spec,
            submitted_by="onboarding-test",
            idempotency_key=key or f"{business_id}-{time.monotonic_ns()}",
            retention_years=settings.retention_years,
        )
        return job.id


def hits_by_party(settings: Settings, job_id: str) -> dict[str, dict[str, Hit]]:
    """party name -> source_ref -> hit (detached, read-only)."""
    with transaction(settings.database_url) as session:
        rows = session.execute(
            select(Hit, Party.name).join(Party, Party.id == Hit.party_id).where(Hit.job_id == job_id)
        )
        result: dict[str, dict[str, Hit]] = {}
        for hit, party_name in rows:
            result.setdefault(party_name, {})[hit.source_ref] = hit
        return result


def customer_of(settings: Settings, job_id: str) -> Customer:
    with transaction(settings.database_url) as session:
        return session.execute(
            select(Customer)
            .join(ScreeningJob, ScreeningJob.customer_id == Customer.id)
            .where(ScreeningJob.id == job_id)
        ).scalar_one()


def hit_on(settings: Settings, job_id: str, source_ref: str) -> Hit:
    with transaction(settings.database_url) as session:
        return session.execute(select(Hit).where(Hit.job_id == job_id, Hit.source_ref == source_ref)).scalar_one()
