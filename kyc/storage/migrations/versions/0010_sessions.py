"""workbench logins: credentials (password, TOTP, failed logins), browser sessions

Revision ID: 0010_sessions
Revises: 0009_cases
Create Date: 2026-12-03

* ``credentials``: one row per person who logs in to the workbench: an argon2id password hash, a TOTP secret
  (encrypted like identity codes), the consecutive failed logins behind backoff and lockout, the chosen language.
* ``web_sessions``: server-side browser sessions (the cookie's token stored as sha256), with idle and absolute
  expiry, a CSRF token, whether the second factor was given, and revocation.
* ``ix_screening_hits_queue`` (priority, created_at, id): the queue's default order read from an index, so its
  first page does not sort every open hit.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_sessions"
down_revision = "0009_cases"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("password_hash", sa.String(256)),
        sa.Column("password_set_at", TS),
        sa.Column("totp_secret", sa.Text()),
        sa.Column("totp_confirmed_at", TS),
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_failed_at", TS),
        sa.Column("locked_until", TS),
        sa.Column("language", sa.String(8)),
        sa.Column("last_totp_step", sa.Integer()),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("second_factor", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("revoked_at", TS),
        sa.Column("revoked_reason", sa.String(32)),
    )
    op.create_index("ix_screening_hits_queue", "screening_hits", ["priority", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_screening_hits_queue", table_name="screening_hits")
    op.drop_table("web_sessions")
    op.drop_table("credentials")
