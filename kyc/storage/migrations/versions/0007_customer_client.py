"""customers belong to the onboarding client that created them; look-up indexes for the submission path

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

An onboarding submission used to find an existing customer by business ID alone and rename it, so one client could
attach jobs to (and change the current screening of) a customer another client created. ``client_id`` scopes the
look-up to the submitting client. Existing customers get the submitter of their first onboarding job. The
registration look-up had no index at all (a sequential scan per submission of a foreign customer).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.String(64), nullable=True))
    op.execute(
        "UPDATE customers SET client_id = (SELECT j.submitted_by FROM screening_jobs j "
        "WHERE j.customer_id = customers.id AND j.trigger = 'onboarding' ORDER BY j.created_at LIMIT 1)"
    )
    op.create_index("ix_customers_client_business", "customers", ["client_id", "business_id"])
    op.create_index("ix_customers_client_registration", "customers", ["client_id", "registration", "country"])


def downgrade() -> None:
    op.drop_index("ix_customers_client_registration", table_name="customers")
    op.drop_index("ix_customers_client_business", table_name="customers")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_column("client_id")
