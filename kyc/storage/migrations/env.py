"""Alembic environment: runs on the connection handed over by ``kyc.storage.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import kyc.storage.access_models  # registers users, tokens, audit log on Base.metadata
import kyc.storage.review_models  # registers decisions, suppressions, notifications, monitoring runs
import kyc.storage.screening_models  # registers customers, jobs, parties, hits, deliveries
import kyc.storage.security_models  # registers block lifts and webhook key generations
import kyc.storage.subject_models  # noqa: F401  (registers data-subject requests and corrections)
from kyc.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
