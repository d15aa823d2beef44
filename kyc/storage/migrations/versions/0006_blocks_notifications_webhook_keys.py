"""block lifts (four eyes), who recorded an authority notification as sent, per-client webhook key generations

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("authority_notifications") as batch_op:
        batch_op.add_column(sa.Column("sent_by", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("sent_by_name", sa.String(128), nullable=True))
        batch_op.add_column(sa.Column("sent_recorded_at", TS, nullable=True))
    op.create_table(
        "block_lifts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ground", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_by_name", sa.String(128), nullable=True),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("blocked_at", TS, nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_by_name", sa.String(128), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_block_lifts_customer", "block_lifts", ["customer_id", "id"])
    op.create_table(
        "webhook_keys",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("previous_generation", sa.Integer, nullable=True),
        sa.Column("previous_until", TS, nullable=True),
        sa.Column("rotated_at", TS, nullable=False),
        sa.Column("rotated_by", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_keys")
    op.drop_index("ix_block_lifts_customer", table_name="block_lifts")
    op.drop_table("block_lifts")
    with op.batch_alter_table("authority_notifications") as batch_op:
        for column in ("sent_recorded_at", "sent_by_name", "sent_by"):
            batch_op.drop_column(column)
