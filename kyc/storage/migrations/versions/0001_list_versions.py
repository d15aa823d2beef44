"""list versions

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "list_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("parser_version", sa.String(length=32), nullable=False),
        sa.Column("file_format", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("previous_version_id", sa.Integer(), nullable=True),
        sa.Column("added_count", sa.Integer(), nullable=False),
        sa.Column("removed_count", sa.Integer(), nullable=False),
        sa.Column("changed_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["previous_version_id"],
            ["list_versions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("list_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_list_versions_source"), ["source"], unique=False)
        batch_op.create_index("ix_list_versions_source_sha", ["source", "sha256"], unique=False)

    op.create_table(
        "list_sources",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("active_version_id", sa.Integer(), nullable=True),
        sa.Column("etag", sa.String(length=512), nullable=True),
        sa.Column("last_modified", sa.String(length=128), nullable=True),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["active_version_id"], ["list_versions.id"], name="fk_list_sources_active_version", use_alter=True
        ),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "list_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("source_ref", sa.String(length=128), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("old_hash", sa.String(length=64), nullable=True),
        sa.Column("new_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["version_id"], ["list_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("list_changes", schema=None) as batch_op:
        batch_op.create_index("ix_list_changes_version", ["version_id", "change"], unique=False)

    op.create_table(
        "list_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("source_ref", sa.String(length=128), nullable=False),
        sa.Column("schema", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["list_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version_id", "source_ref", name="uq_list_entries_version_ref"),
    )
    with op.batch_alter_table("list_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_list_entries_version_id"), ["version_id"], unique=False)

    op.create_table(
        "list_fetch_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["version_id"], ["list_versions.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("list_fetch_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_list_fetch_log_source"), ["source"], unique=False)

    op.create_table(
        "list_version_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("compression", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["list_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("list_version_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_list_version_files_version_id"), ["version_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("list_version_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_list_version_files_version_id"))

    op.drop_table("list_version_files")
    with op.batch_alter_table("list_fetch_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_list_fetch_log_source"))

    op.drop_table("list_fetch_log")
    with op.batch_alter_table("list_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_list_entries_version_id"))

    op.drop_table("list_entries")
    with op.batch_alter_table("list_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_list_changes_version")

    op.drop_table("list_changes")
    with op.batch_alter_table("list_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_list_versions_source_sha")
        batch_op.drop_index(batch_op.f("ix_list_versions_source"))

    op.drop_table("list_versions")
    op.drop_table("list_sources")
