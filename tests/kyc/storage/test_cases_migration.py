"""Migration 0009 keeps existing databases upgradable: hits of an older database end up in cases."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select, text

from kyc.storage.cases import Case
from kyc.storage.db import alembic_config, get_engine, migrate, transaction
from kyc.storage.hits import Hit, HitDecision
from kyc.submission import CustomerSpec, JobSpec, PersonSpec, create_job


def _hits(db_url: str) -> str:
    spec = JobSpec(
        customer=CustomerSpec(name="Vanha Oy", country="FI", business_id="0737546-2"),
        persons=(PersonSpec(role="representative", name="Emraan Ali"),),
    )
    with transaction(db_url) as session:
        job, _ = create_job(session, spec, submitted_by="old", idempotency_key="old-1", retention_years=5)
        party = job.parties[1]
        for position, (ref, status) in enumerate([("QDi.430", "dismissed"), ("QDi.431", "open")]):
            session.add(
                Hit(
                    job_id=job.id,
                    party_id=party.id,
                    position=position,
                    source="un_sc",
                    source_ref=ref,
                    schema="Person",
                    score=0.95,
                    matched_name="EMRAAN ALI",
                    query_name=party.name,
                    explanation={},
                    kind="sanction",
                    priority="high",
                    status=status,
                    engine_version="old",
                    config_hash="0" * 64,
                )
            )
        session.flush()
        hit_id = session.execute(select(Hit.id).where(Hit.source_ref == "QDi.430")).scalar_one()
        session.add(
            HitDecision(
                hit_id=hit_id,
                decision="false_positive",
                reason="old",
                user_id="u",
                status_before="open",
                status_after="dismissed",
            )
        )
        return str(job.id)


def test_hits_of_an_older_database_are_put_in_cases(db_url: str) -> None:
    config = alembic_config(db_url)
    engine = get_engine(db_url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0008_security")
        with engine.begin() as connection:
            assert "cases" not in {
                row[0]
                for row in connection.execute(
                    text(
                        "SELECT name FROM sqlite_master WHERE type='table'"
                        if db_url.startswith("sqlite")
                        else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    )
                )
            }
    finally:
        migrate(db_url)
    job_id = _hits(db_url)  # written at head, then taken through a downgrade and upgrade
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008_security")
    migrate(db_url)
    with transaction(db_url) as session:
        found = session.execute(select(Case).where(Case.job_id == job_id).order_by(Case.subject_key)).scalars().all()
        assert [(c.subject_key, c.status, c.verdict, c.priority) for c in found] == [
            ("entry:un_sc:QDi.430", "closed", "false_positive", "high"),
            ("entry:un_sc:QDi.431", "open", None, "high"),
        ]
        assert all(hit.case_id for hit in session.execute(select(Hit)).scalars())
        assert len(session.execute(select(HitDecision)).scalars().all()) == 1  # nothing hanging off hits was lost
