"""data-subject requests and corrections

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

Hand-written (other engineers add models concurrently).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("legal_reason", sa.Text(), nullable=True),
        sa.Column("party_ids", sa.JSON(), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("handled_by", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retention_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "subject_corrections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("party_id", sa.String(length=36), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("corrected_by", sa.String(length=128), nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"], ["screening_parties.id"], name="fk_subject_corrections_party", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_subject_corrections_party_id", "subject_corrections", ["party_id"])


def downgrade() -> None:
    op.drop_index("ix_subject_corrections_party_id", table_name="subject_corrections")
    op.drop_table("subject_corrections")
    op.drop_table("subject_requests")
