"""review and monitoring: decisions, suppressions, authority notifications, monitoring runs; new hit/customer columns

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _customer_columns() -> None:
    with op.batch_alter_table("customers") as batch_op:
        batch_op.add_column(sa.Column("risk", sa.String(8), nullable=False, server_default="medium"))
        batch_op.add_column(sa.Column("outcome", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("blocked_at", TS, nullable=True))
        batch_op.add_column(sa.Column("next_rescreen_at", TS, nullable=True))
        batch_op.add_column(sa.Column("last_rescreened_at", TS, nullable=True))
        batch_op.create_index("ix_customers_next_rescreen_at", ["next_rescreen_at"])


def _hit_columns() -> None:
    with op.batch_alter_table("screening_hits") as batch_op:
        batch_op.add_column(sa.Column("party_fingerprint", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("entry_hash", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("origin", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("updated_at", TS, nullable=True))
        batch_op.add_column(sa.Column("delisted_at", TS, nullable=True))
        batch_op.add_column(sa.Column("reopened_at", TS, nullable=True))
        batch_op.add_column(sa.Column("reopen_reason", sa.Text, nullable=True))
        batch_op.create_index("ix_screening_hits_source_ref", ["source", "source_ref"])


def upgrade() -> None:
    _customer_columns()
    _hit_columns()
    op.create_table(
        "hit_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("hit_id", sa.String(36), sa.ForeignKey("screening_hits.id", ondelete="CASCADE"), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(128), nullable=True),
        sa.Column("role", sa.String(32), nullable=True),
        sa.Column("proposal_id", sa.Integer, nullable=True),
        sa.Column("status_before", sa.String(16), nullable=False),
        sa.Column("status_after", sa.String(16), nullable=False),
        sa.Column("four_eyes", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_hit_decisions_hit", "hit_decisions", ["hit_id", "id"])
    op.create_table(
        "hit_suppressions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("party_fingerprint", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("source_ref", sa.String(128), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("hit_id", sa.String(36), sa.ForeignKey("screening_hits.id", ondelete="SET NULL"), nullable=True),
        sa.Column("decision_id", sa.Integer, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("lifted_at", TS, nullable=True),
        sa.Column("lifted_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_hit_suppressions_lookup", "hit_suppressions", ["customer_id", "source", "source_ref"])
    op.create_table(
        "authority_notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("hit_id", sa.String(36), sa.ForeignKey("screening_hits.id", ondelete="SET NULL"), nullable=True),
        sa.Column("authority", sa.String(200), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("source_ref", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("reference", sa.String(200), nullable=True),
    )
    op.create_index("ix_authority_notifications_customer_id", "authority_notifications", ["customer_id"])
    op.create_table(
        "monitoring_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("list_versions.id", ondelete="SET NULL"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("parties", sa.Integer, nullable=False),
        sa.Column("new_hits", sa.Integer, nullable=False),
        sa.Column("reopened", sa.Integer, nullable=False),
        sa.Column("delisted", sa.Integer, nullable=False),
        sa.Column("details", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.UniqueConstraint("kind", "version_id", name="uq_monitoring_runs_kind_version"),
    )


def downgrade() -> None:
    op.drop_table("monitoring_runs")
    op.drop_index("ix_authority_notifications_customer_id", table_name="authority_notifications")
    op.drop_table("authority_notifications")
    op.drop_index("ix_hit_suppressions_lookup", table_name="hit_suppressions")
    op.drop_table("hit_suppressions")
    op.drop_index("ix_hit_decisions_hit", table_name="hit_decisions")
    op.drop_table("hit_decisions")
    with op.batch_alter_table("screening_hits") as batch_op:
        batch_op.drop_index("ix_screening_hits_source_ref")
        for column in ("reopen_reason", "reopened_at", "delisted_at", "updated_at", "origin", "entry_hash"):
            batch_op.drop_column(column)
        batch_op.drop_column("party_fingerprint")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_index("ix_customers_next_rescreen_at")
        for column in ("last_rescreened_at", "next_rescreen_at", "blocked_at", "outcome", "risk"):
            batch_op.drop_column(column)
