"""keyed audit chain with a protected head; token expiry; key check

Revision ID: 0008_security
Revises: 0007
Create Date: 2026-11-23

* ``audit_head.legacy_until``: the entries written so far were chained with plain SHA-256; from now on every entry
  is keyed (HMAC with ``KYC_AUDIT_KEY``, which never enters the database). The boundary is fixed here, at the
  upgrade, and triggers protect the head like the log: no DELETE, no TRUNCATE, ``last_id`` never moves back, the
  boundary never changes. PostgreSQL also refuses TRUNCATE of ``audit_log`` (row triggers do not see it).
* ``key_checks``: a canary encrypted with the current encryption key and the fingerprints of the blind-index keys in
  use, so a process with keys that cannot read the stored data refuses to start (``kyc.keycheck``). Created at the
  first start, not here: migrations never see keys.
"""

from __future__ import annotations

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


def upgrade() -> None:
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
