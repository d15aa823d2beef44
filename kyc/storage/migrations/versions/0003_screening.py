"""screening: customers, jobs, parties, hits, webhook deliveries, purge log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _index(table: str, name: str, columns: list[str], unique: bool = False) -> None:
    with op.batch_alter_table(table) as batch_op:
        batch_op.create_index(name, columns, unique=unique)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("business_id", sa.String(32), nullable=True),
        sa.Column("registration", sa.String(64), nullable=True),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("client_reference", sa.String(128), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("relationship_ended_at", TS, nullable=True),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("legal_basis", sa.String(200), nullable=False),
        sa.Column("retention_until", TS, nullable=False),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
    )
    _index("customers", "ix_customers_business_id", ["business_id"])
    _index("customers", "ix_customers_client_reference", ["client_reference"])
    _index("customers", "ix_customers_retention_until", ["retention_until"])

    op.create_table(
        "screening_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("edd_required", sa.Boolean(), nullable=False),
        sa.Column("client_reference", sa.String(128), nullable=True),
        sa.Column("callback_url", sa.String(2048), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("legal_basis", sa.String(200), nullable=False),
        sa.Column("list_versions", sa.JSON(), nullable=True),
        sa.Column("engine_version", sa.String(64), nullable=True),
        sa.Column("config_hash", sa.String(64), nullable=True),
        sa.Column("retention_until", TS, nullable=False),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("enqueued_at", TS, nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("completed_at", TS, nullable=True),
        sa.UniqueConstraint("submitted_by", "idempotency_key", name="uq_screening_jobs_idempotency"),
    )
    _index("screening_jobs", "ix_screening_jobs_customer_id", ["customer_id"])
    _index("screening_jobs", "ix_screening_jobs_status_updated", ["status", "updated_at"])
    _index("screening_jobs", "ix_screening_jobs_retention_until", ["retention_until"])

    op.create_table(
        "screening_parties",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("job_id", sa.String(36), sa.ForeignKey("screening_jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("schema", sa.String(32), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("birth_date", sa.String(10), nullable=True),
        sa.Column("nationality", sa.String(2), nullable=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("business_id", sa.String(32), nullable=True),
        sa.Column("registration", sa.String(64), nullable=True),
        sa.Column("personal_id_encrypted", sa.Text(), nullable=True),
        sa.Column("personal_id_index", sa.String(128), nullable=True),
        sa.Column("personal_id_masked", sa.String(32), nullable=True),
        sa.Column("ownership", sa.Float(), nullable=True),
        sa.Column("declared_pep", sa.Boolean(), nullable=False),
        sa.Column("pep_status", sa.String(16), nullable=True),
        sa.Column("pep_basis", sa.JSON(), nullable=True),
        sa.Column("edd_required", sa.Boolean(), nullable=False),
    )
    _index("screening_parties", "ix_screening_parties_job_id", ["job_id"])
    _index("screening_parties", "ix_screening_parties_personal_id_index", ["personal_id_index"])

    op.create_table(
        "screening_hits",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("job_id", sa.String(36), sa.ForeignKey("screening_jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("party_id", sa.String(36), sa.ForeignKey("screening_parties.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("source_ref", sa.String(128), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("schema", sa.String(32), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("matched_name", sa.String(1000), nullable=False),
        sa.Column("query_name", sa.String(1000), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("engine_version", sa.String(64), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    _index("screening_hits", "ix_screening_hits_job_id", ["job_id"])
    _index("screening_hits", "ix_screening_hits_party_id", ["party_id"])
    _index("screening_hits", "ix_screening_hits_status", ["status"])

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(36), nullable=False),
        sa.Column("job_id", sa.String(36), sa.ForeignKey("screening_jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempted_at", TS, nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=True),
    )
    _index("webhook_deliveries", "ix_webhook_deliveries_delivery_id", ["delivery_id"])
    _index("webhook_deliveries", "ix_webhook_deliveries_job_id", ["job_id"])

    op.create_table(
        "purge_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_id", sa.String(36), nullable=False),
        sa.Column("retention_until", TS, nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("purge_log")
    op.drop_table("webhook_deliveries")
    op.drop_table("screening_hits")
    op.drop_table("screening_parties")
    op.drop_table("screening_jobs")
    op.drop_table("customers")
