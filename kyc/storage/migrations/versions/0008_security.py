"""keyed audit chain with a protected head; token expiry; key check

Revision ID: 0008_security
Revises: 0007
Create Date: 2026-11-23

* ``audit_head.legacy_until``: the entries written so far were chained with plain SHA-256; from now on every entry
  is keyed (HMAC with ``KYC_AUDIT_KEY``, which never enters the database). The boundary is fixed here, at the
  upgrade, and triggers protect the head like the log: no DELETE, no TRUNCATE, ``last_id`` never moves back, the
  boundary never changes. PostgreSQL also refuses TRUNCATE of ``audit_log`` (row triggers do not see it).
* ``api_tokens``: every token expires. Tokens issued before the upgrade expire 90 days after it (rotate them with
  ``POST /v1/me/tokens`` or issue new ones with ``kyc users token``); ``created_by``, ``hint`` and ``revoked_by``
  say who minted and revoked which token.
* ``key_checks``: a canary encrypted with the current encryption key and the fingerprints of the blind-index keys in
  use, so a process with keys that cannot read the stored data refuses to start (``kyc.keycheck``). Created at the
  first start, not here: migrations never see keys.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0008_security"
down_revision = "0007"
branch_labels = None
depends_on = None

_PG_HEAD_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_head_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.last_id >= OLD.last_id
       AND NEW.legacy_until = OLD.legacy_until THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_head is append-only: % refused (the head only moves forward)', TG_OP;
END;
$$ LANGUAGE plpgsql
"""
_PG_TRUNCATE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_no_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql
"""
_SQLITE_HEAD_TRIGGERS = (
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
    "BEGIN SELECT RAISE(ABORT, 'audit_head is append-only: DELETE refused'); END",
    "CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head "
    "WHEN NEW.id <> OLD.id OR NEW.last_id < OLD.last_id OR NEW.legacy_until <> OLD.legacy_until "
    "BEGIN SELECT RAISE(ABORT, 'audit_head is append-only: UPDATE refused (the head only moves forward)'); END",
)


LEGACY_TOKEN_DAYS = 90


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("created_by", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("hint", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("revoked_by", sa.String(length=128), nullable=True))
    bind = op.get_bind()
    expiry = datetime.now(UTC) + timedelta(days=LEGACY_TOKEN_DAYS)
    if bind.dialect.name == "sqlite":
        expiry = expiry.replace(tzinfo=None)  # SQLite stores UTC without a zone (kyc.storage.base.UTCDateTime)
    update = sa.text("UPDATE api_tokens SET expires_at = :at").bindparams(
        sa.bindparam("at", type_=sa.DateTime(timezone=True))
    )
    bind.execute(update, {"at": expiry})
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_table(
        "key_checks",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("canary", sa.Text(), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=32), nullable=False),
        sa.Column("blind_fingerprints", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_head") as batch_op:
        batch_op.add_column(sa.Column("legacy_until", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE audit_head SET legacy_until = last_id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_HEAD_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_head_guard BEFORE UPDATE OR DELETE ON audit_head "
            "FOR EACH ROW EXECUTE FUNCTION audit_head_guard()"
        )
        op.execute(_PG_TRUNCATE_FUNCTION)
        for table in ("audit_log", "audit_head"):
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_no_truncate()"
            )
    else:
        for statement in _SQLITE_HEAD_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("audit_log", "audit_head"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS audit_no_truncate()")
        op.execute("DROP TRIGGER IF EXISTS audit_head_guard ON audit_head")
        op.execute("DROP FUNCTION IF EXISTS audit_head_guard()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_head_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_head_forward_only")
    with op.batch_alter_table("audit_head") as batch_op:
        batch_op.drop_column("legacy_until")
    op.drop_table("key_checks")
    with op.batch_alter_table("api_tokens") as batch_op:
        for column in ("revoked_by", "hint", "created_by", "expires_at"):
            batch_op.drop_column(column)
